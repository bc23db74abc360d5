package authority

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// Front ends keep short-lived protocol state (a SAML request waiting for
// the user to sign in, a request ID already answered) where every replica
// sees it. These calls give them that without handing them the store:
// namespaces are the front end's own, under "fe-", and always expire.

// ErrStateGone is state that expired, was taken, or never existed.
var ErrStateGone = errors.New("no such state, or it expired")

// ErrStateClaimed is a ClaimState of a key that is already claimed.
var ErrStateClaimed = errors.New("already claimed")

func stateKind(ns string) string { return "fe-" + strings.ReplaceAll(ns, "/", "_") }

// PutState keeps value under ns/key for ttl.
func (a *Authority) PutState(ctx context.Context, ns, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("front-end state must expire")
	}
	return a.store.PutObject(ctx, stateKind(ns), key, value, ttl)
}

// GetState reads ns/key.
func (a *Authority) GetState(ctx context.Context, ns, key string) ([]byte, error) {
	o, err := a.store.GetObject(ctx, stateKind(ns), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrStateGone
	}
	if err != nil {
		return nil, err
	}
	return o.Value, nil
}

// TakeState reads and removes ns/key; of concurrent takers one wins.
func (a *Authority) TakeState(ctx context.Context, ns, key string) ([]byte, error) {
	o, err := a.store.TakeObject(ctx, stateKind(ns), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrStateGone
	}
	if err != nil {
		return nil, err
	}
	return o.Value, nil
}

// ClaimState records ns/key for ttl unless it is already recorded
// (ErrStateClaimed): a replay check across replicas.
func (a *Authority) ClaimState(ctx context.Context, ns, key string, ttl time.Duration) error {
	err := a.store.CreateObject(ctx, stateKind(ns), key, nil, ttl)
	if errors.Is(err, store.ErrConflict) {
		return ErrStateClaimed
	}
	return err
}

// DeleteState removes ns/key.
func (a *Authority) DeleteState(ctx context.Context, ns, key string) error {
	return a.store.DeleteObject(ctx, stateKind(ns), key)
}

// Secret returns the sealed secret called name, creating it with create
// the first time. Replicas racing to create it all end up with the one
// that was stored first. The value is sealed with the keyring (AAD: the
// name) before it reaches etcd.
func (a *Authority) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	const kind = "secrets"
	aad := []byte("secret/" + name)
	for attempt := 0; attempt < 3; attempt++ {
		o, err := a.store.GetObject(ctx, kind, name)
		if err == nil {
			return a.keys.Open(string(o.Value), aad)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		v, err := create()
		if err != nil {
			return nil, err
		}
		sealed, err := a.keys.Seal(v, aad)
		if err != nil {
			return nil, err
		}
		err = a.store.CreateObject(ctx, kind, name, []byte(sealed), 0)
		if err == nil {
			a.store.AppendAudit(ctx, a.audit(ctx, "secret.create", "secret", name, nil))
			return v, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
	}
	return nil, errors.New("secret " + name + " could not be read or created")
}

// PutSecret replaces the sealed secret called name (a key rollover).
func (a *Authority) PutSecret(ctx context.Context, name string, v []byte) error {
	sealed, err := a.keys.Seal(v, []byte("secret/"+name))
	if err != nil {
		return err
	}
	if err := a.store.PutObject(ctx, "secrets", name, []byte(sealed), 0); err != nil {
		return err
	}
	return a.store.AppendAudit(ctx, a.audit(ctx, "secret.put", "secret", name, nil))
}

// LookupSecret reads the sealed secret called name without creating it;
// a missing one is ErrStateGone.
func (a *Authority) LookupSecret(ctx context.Context, name string) ([]byte, error) {
	o, err := a.store.GetObject(ctx, "secrets", name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrStateGone
	}
	if err != nil {
		return nil, err
	}
	return a.keys.Open(string(o.Value), []byte("secret/"+name))
}

// DeleteSecret removes the sealed secret called name.
func (a *Authority) DeleteSecret(ctx context.Context, name string) error {
	if err := a.store.DeleteObject(ctx, "secrets", name); err != nil {
		return err
	}
	return a.store.AppendAudit(ctx, a.audit(ctx, "secret.delete", "secret", name, nil))
}

// StateItem is one entry of ListState.
type StateItem struct {
	Key   string
	Value []byte
}

// ListState lists the entries of ns whose key starts with prefix, in key
// order (at most 1000).
func (a *Authority) ListState(ctx context.Context, ns, prefix string) ([]StateItem, error) {
	objs, err := a.store.ListObjects(ctx, stateKind(ns), prefix, 0)
	if err != nil {
		return nil, err
	}
	out := make([]StateItem, len(objs))
	for i, o := range objs {
		out[i] = StateItem{Key: o.Key, Value: o.Value}
	}
	return out, nil
}
