package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	kindServiceAccount = "service account"
	kindToken          = "token"
	kindBinding        = "binding"
)

func (s *Etcd) serviceAccountKey(id string) string { return s.key(colServiceAccounts, id) }
func (s *Etcd) tokenKey(id string) string          { return s.key(colTokens, id) }

// CreateServiceAccount stores a new service account; names are unique,
// case-insensitively.
func (s *Etcd) CreateServiceAccount(ctx context.Context, sa *ServiceAccount, w Write) (*ServiceAccount, error) {
	sa = sa.Clone()
	if sa.ID == "" {
		sa.ID = uuid.NewString()
	}
	if strings.TrimSpace(sa.Name) == "" {
		return nil, errors.New("a service account needs a name")
	}
	rev, err := s.createRecord(ctx, kindServiceAccount, s.serviceAccountKey(sa.ID), sa.ID, sa, serviceAccountUniques(sa), nil, nil, w)
	if err != nil {
		return nil, err
	}
	sa.Version = rev
	return sa, nil
}

// UpdateServiceAccount applies fn to the current record.
func (s *Etcd) UpdateServiceAccount(ctx context.Context, id string, ifVersion int64, fn func(*ServiceAccount) (Write, error)) (*ServiceAccount, error) {
	var result *ServiceAccount
	rev, err := s.updateRecord(ctx, kindServiceAccount, s.serviceAccountKey(id), id, ifVersion, nil,
		func(cur []byte, reads *clientv3.TxnResponse) (mutation, error) {
			sa := new(ServiceAccount)
			if err := json.Unmarshal(cur, sa); err != nil {
				return mutation{}, fmt.Errorf("decoding service account %s: %w", id, err)
			}
			sa.Version = reads.Responses[0].GetResponseRange().Kvs[0].ModRevision
			old := serviceAccountUniques(sa)
			w, err := fn(sa)
			if err != nil {
				return mutation{}, err
			}
			if sa.ID != id || strings.TrimSpace(sa.Name) == "" {
				return mutation{}, errors.New("a service account keeps its id and needs a name")
			}
			data, err := json.Marshal(sa)
			if err != nil {
				return mutation{}, err
			}
			result = sa
			return mutation{data: data, old: old, next: serviceAccountUniques(sa), w: w}, nil
		})
	if err != nil {
		return nil, err
	}
	result.Version = rev
	return result, nil
}

// DeleteServiceAccount removes a service account.
func (s *Etcd) DeleteServiceAccount(ctx context.Context, id string, w Write) error {
	_, err := s.deleteRecord(ctx, kindServiceAccount, s.serviceAccountKey(id), id, 0,
		func(cur []byte) ([]unique, error) {
			sa := new(ServiceAccount)
			if err := json.Unmarshal(cur, sa); err != nil {
				return nil, err
			}
			return serviceAccountUniques(sa), nil
		}, nil, w)
	return err
}

// GetServiceAccount returns the service account with id.
func (s *Etcd) GetServiceAccount(ctx context.Context, id string) (*ServiceAccount, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if sa := x.serviceAccounts[id]; sa != nil {
		return sa.Clone(), nil
	}
	return nil, &NotFoundError{Kind: kindServiceAccount, Key: id}
}

// LookupServiceAccount finds a service account by name, case-insensitively.
func (s *Etcd) LookupServiceAccount(ctx context.Context, name string) (*ServiceAccount, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if sa := x.saByName[strings.ToLower(name)]; sa != nil {
		return sa.Clone(), nil
	}
	return nil, &NotFoundError{Kind: kindServiceAccount, Key: name}
}

// ListServiceAccounts pages through service accounts by name.
func (s *Etcd) ListServiceAccounts(ctx context.Context, opts ListOptions) (Page[*ServiceAccount], error) {
	x, err := s.view()
	if err != nil {
		return Page[*ServiceAccount]{}, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return page(x.saOrder, opts, func(id string) (*ServiceAccount, bool) {
		sa := x.serviceAccounts[id]
		if sa == nil {
			return nil, false
		}
		return sa.Clone(), true
	}), nil
}

// CreateToken stores a token record (its digest, never its secret).
func (s *Etcd) CreateToken(ctx context.Context, t *Token, w Write) (*Token, error) {
	t = t.Clone()
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if t.Digest == "" {
		return nil, errors.New("a token needs a digest")
	}
	rev, err := s.createRecord(ctx, kindToken, s.tokenKey(t.ID), t.ID, t, tokenUniques(t), nil, nil, w)
	if err != nil {
		return nil, err
	}
	t.Version = rev
	return t, nil
}

// DeleteToken revokes a token.
func (s *Etcd) DeleteToken(ctx context.Context, id string, w Write) error {
	_, err := s.deleteRecord(ctx, kindToken, s.tokenKey(id), id, 0,
		func(cur []byte) ([]unique, error) {
			t := new(Token)
			if err := json.Unmarshal(cur, t); err != nil {
				return nil, err
			}
			return tokenUniques(t), nil
		}, nil, w)
	return err
}

// GetToken returns the token record with id.
func (s *Etcd) GetToken(ctx context.Context, id string) (*Token, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if t := x.tokens[id]; t != nil {
		return t.Clone(), nil
	}
	return nil, &NotFoundError{Kind: kindToken, Key: id}
}

// TokenByDigest finds a token by the digest of its secret.
func (s *Etcd) TokenByDigest(ctx context.Context, digest string) (*Token, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if t := x.tokenByDigest[digest]; t != nil {
		return t.Clone(), nil
	}
	return nil, &NotFoundError{Kind: kindToken, Key: "(digest)"}
}

// ListTokens returns every token record, oldest first.
func (s *Etcd) ListTokens(ctx context.Context) ([]*Token, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	out := make([]*Token, 0, len(x.tokens))
	for _, t := range x.tokens {
		out = append(out, t.Clone())
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// PutBinding binds a user to a directory (or replaces the binding). The
// user must exist.
func (s *Etcd) PutBinding(ctx context.Context, b *Binding, w Write) (*Binding, error) {
	if b.UserID == "" || b.Directory == "" || strings.Contains(b.Directory, "/") {
		return nil, errors.New("a binding needs a user id and a directory name without '/'")
	}
	c := *b
	if c.Created.IsZero() {
		c.Created = s.now().UTC()
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	wops, err := s.writeOps(w)
	if err != nil {
		return nil, err
	}
	ops := append([]clientv3.Op{clientv3.OpPut(s.bindingsPrefix(c.UserID)+c.Directory, string(data))}, wops...)
	resp, err := s.commit(ctx, []clientv3.Cmp{exists(s.userKey(c.UserID))}, ops)
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return nil, &NotFoundError{Kind: kindUser, Key: c.UserID}
	}
	c.Version = resp.Header.Revision
	return &c, nil
}

// PutBindings creates many bindings (and w) in one transaction; every
// user must exist. At most 100 bindings per call.
func (s *Etcd) PutBindings(ctx context.Context, bs []Binding, w Write) error {
	if len(bs) > 100 {
		return errors.New("at most 100 bindings per transaction")
	}
	w.Bindings = append(append([]Binding(nil), w.Bindings...), bs...)
	cmps := make([]clientv3.Cmp, 0, len(bs))
	for _, b := range bs {
		cmps = append(cmps, exists(s.userKey(b.UserID)))
	}
	return s.commitGuarded(ctx, cmps, w, &NotFoundError{Kind: kindUser, Key: "(one of the bound users)"})
}

// commitGuarded commits w if every cmp holds, else returns missing.
func (s *Etcd) commitGuarded(ctx context.Context, cmps []clientv3.Cmp, w Write, missing error) error {
	ops, err := s.writeOps(w)
	if err != nil {
		return err
	}
	resp, err := s.commit(ctx, cmps, ops)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return missing
	}
	return nil
}

// SettleBinding writes a binding's new state and deletes delivered outbox
// entries in one transaction, if neither the binding (b.Version) nor any
// entry (its Version) changed since they were read; otherwise it writes
// nothing and returns a *PreconditionError, and the caller settles them
// one by one.
func (s *Etcd) SettleBinding(ctx context.Context, b Binding, delivered []OutboxEntry) error {
	key := s.bindingsPrefix(b.UserID) + b.Directory
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", b.Version)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(data))}
	for _, e := range delivered {
		k := s.outboxKey(e.Directory, e.UserID, e.Kind)
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", e.Version))
		ops = append(ops, clientv3.OpDelete(k))
	}
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return s.mapErr(err)
	}
	if !resp.Succeeded {
		return &PreconditionError{Kind: kindBinding, ID: b.UserID + "/" + b.Directory, Want: b.Version}
	}
	return nil
}

// DeleteBinding unbinds a user from a directory.
func (s *Etcd) DeleteBinding(ctx context.Context, userID, directory string, w Write) error {
	key := s.bindingsPrefix(userID) + directory
	wops, err := s.writeOps(w)
	if err != nil {
		return err
	}
	resp, err := s.commit(ctx, []clientv3.Cmp{exists(key)}, append([]clientv3.Op{clientv3.OpDelete(key)}, wops...))
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return &NotFoundError{Kind: kindBinding, Key: userID + "/" + directory}
	}
	return nil
}

// UpdateBinding changes a binding with fn, retrying on concurrent changes.
func (s *Etcd) UpdateBinding(ctx context.Context, userID, directory string, fn func(*Binding) (Write, error)) (*Binding, error) {
	key := s.bindingsPrefix(userID) + directory
	for attempt := 0; attempt < 16; attempt++ {
		tctx, cancel := s.withTimeout(ctx)
		resp, err := s.cli.Get(tctx, key)
		cancel()
		if err != nil {
			return nil, s.mapErr(err)
		}
		if len(resp.Kvs) == 0 {
			return nil, &NotFoundError{Kind: kindBinding, Key: userID + "/" + directory}
		}
		var b Binding
		if err := json.Unmarshal(resp.Kvs[0].Value, &b); err != nil {
			return nil, fmt.Errorf("decoding binding %s: %w", key, err)
		}
		rev := resp.Kvs[0].ModRevision
		w, err := fn(&b)
		if err != nil {
			return nil, err
		}
		b.UserID, b.Directory = userID, directory
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		wops, err := s.writeOps(w)
		if err != nil {
			return nil, err
		}
		r, err := s.commit(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)},
			append([]clientv3.Op{clientv3.OpPut(key, string(data))}, wops...))
		if err != nil {
			return nil, err
		}
		if r.Succeeded {
			b.Version = r.Header.Revision
			return &b, nil
		}
	}
	return nil, fmt.Errorf("%w: binding %s/%s kept changing", ErrConflict, userID, directory)
}

// BindingsOf lists every binding to a directory. It reads all bindings
// from etcd (they are keyed by user), so it is for periodic passes, not
// for request paths.
func (s *Etcd) BindingsOf(ctx context.Context, directory string) ([]Binding, error) {
	var out []Binding
	key := s.key(colBindings)
	end := prefixEnd(key)
	for {
		tctx, cancel := s.withTimeout(ctx)
		resp, err := s.cli.Get(tctx, key, clientv3.WithRange(end), clientv3.WithLimit(5000))
		cancel()
		if err != nil {
			return nil, s.mapErr(err)
		}
		for _, kv := range resp.Kvs {
			if !strings.HasSuffix(string(kv.Key), "/"+directory) {
				continue
			}
			var b Binding
			if err := json.Unmarshal(kv.Value, &b); err != nil {
				return nil, fmt.Errorf("decoding binding %s: %w", kv.Key, err)
			}
			if b.Directory != directory {
				continue
			}
			b.Version = kv.ModRevision
			out = append(out, b)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// UpdateOutbox rewrites an entry (attempts, next attempt, dead) if it has
// not been replaced since it was read; a replaced entry is left alone and
// reported as a precondition failure.
func (s *Etcd) UpdateOutbox(ctx context.Context, e OutboxEntry) error {
	key := s.outboxKey(e.Directory, e.UserID, e.Kind)
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", e.Version)).
		Then(clientv3.OpPut(key, string(data))).Commit()
	if err != nil {
		return s.mapErr(err)
	}
	if !resp.Succeeded {
		return &PreconditionError{Kind: "outbox entry", ID: e.Directory + "/" + e.UserID + "/" + e.Kind, Want: e.Version}
	}
	return nil
}

// WatchOutbox signals (coalesced) whenever an entry of directory is
// written, until ctx ends.
func (s *Etcd) WatchOutbox(ctx context.Context, directory string) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			wc := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.key(colOutbox, directory, "/"), clientv3.WithPrefix(), clientv3.WithFilterDelete())
			for resp := range wc {
				if resp.Err() != nil {
					break
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return out
}

// Bindings lists a user's bindings, read from etcd.
func (s *Etcd) Bindings(ctx context.Context, userID string) ([]Binding, error) {
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.bindingsPrefix(userID), clientv3.WithPrefix())
	if err != nil {
		return nil, s.mapErr(err)
	}
	out := make([]Binding, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var b Binding
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("decoding binding %s: %w", kv.Key, err)
		}
		b.Version = kv.ModRevision
		out = append(out, b)
	}
	return out, nil
}

// EnqueueOutbox writes outbox entries, each guarded by its binding.
func (s *Etcd) EnqueueOutbox(ctx context.Context, entries []OutboxEntry, w Write) error {
	w.Outbox = append(append([]OutboxEntry(nil), w.Outbox...), entries...)
	cmps := make([]clientv3.Cmp, 0, len(entries))
	for _, e := range entries {
		cmps = append(cmps, exists(s.bindingsPrefix(e.UserID)+e.Directory))
	}
	return s.commitGuarded(ctx, cmps, w, &NotFoundError{Kind: kindBinding, Key: "(one of the entries' bindings)"})
}

// Outbox lists up to limit pending entries of a directory.
func (s *Etcd) Outbox(ctx context.Context, directory string, limit int) ([]OutboxEntry, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.key(colOutbox, directory, "/"), clientv3.WithPrefix(), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return decodeOutbox(resp.Kvs)
}

func decodeOutbox(kvs []*mvccpb.KeyValue) ([]OutboxEntry, error) {
	out := make([]OutboxEntry, 0, len(kvs))
	for _, kv := range kvs {
		var e OutboxEntry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, fmt.Errorf("decoding outbox entry %s: %w", kv.Key, err)
		}
		e.Version = kv.ModRevision
		out = append(out, e)
	}
	return out, nil
}

// OutboxFor lists the pending entries of one user for one directory.
func (s *Etcd) OutboxFor(ctx context.Context, directory, userID string) ([]OutboxEntry, error) {
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, s.key(colOutbox, directory, "/", userID, "/"), clientv3.WithPrefix())
	if err != nil {
		return nil, s.mapErr(err)
	}
	return decodeOutbox(resp.Kvs)
}

// DeleteOutbox removes a delivered entry if it has not been replaced since
// it was read; a replaced entry (a newer password) is kept and reported as
// a precondition failure.
func (s *Etcd) DeleteOutbox(ctx context.Context, e OutboxEntry) error {
	key := s.outboxKey(e.Directory, e.UserID, e.Kind)
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", e.Version)).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return s.mapErr(err)
	}
	if resp.Succeeded {
		return nil
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return &NotFoundError{Kind: "outbox entry", Key: e.Directory + "/" + e.UserID + "/" + e.Kind}
	}
	return &PreconditionError{Kind: "outbox entry", ID: e.Directory + "/" + e.UserID + "/" + e.Kind, Want: e.Version}
}
