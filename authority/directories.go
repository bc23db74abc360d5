package authority

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// Directory is a configured target that keeps its own copy of users
// (Microsoft 365, Active Directory, the local accounts of machines). The
// authority keeps it and its sealed credentials; connectors/ knows the
// kinds and delivers to them.
type Directory struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Settings are the kind's own (JSON, checked by the kind).
	Settings json.RawMessage `json:"settings,omitempty"`
	// Secrets are the credentials, sealed with the keyring (AAD: the
	// directory's name); read them with DirectorySecrets.
	Secrets string `json:"secrets,omitempty"`
	// Mode is push (Headwater wins) or report (record differences only).
	Mode string `json:"mode"`
	// Groups bind their members: joining one binds, leaving all unbinds.
	Groups []string `json:"groups,omitempty"`
	// AllUsers binds every user, from creation: a user created with a
	// password has it delivered with their account.
	AllUsers bool `json:"allUsers,omitempty"`
	// Login chooses the account's login name: "email" (the primary email,
	// as a UPN) or "userName".
	Login string `json:"login,omitempty"`
	// DeleteInTarget deletes accounts of deleted users instead of only
	// disabling them.
	DeleteInTarget bool `json:"deleteInTarget,omitempty"`
	// SyncEvery is the period of full reconcile passes (default 3h);
	// ImportEvery, when set, runs an import on that period.
	SyncEvery   string    `json:"syncEvery,omitempty"`
	ImportEvery string    `json:"importEvery,omitempty"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

const objDirectories = "directories"

// DefaultSyncEvery is the period of full passes when a directory sets none.
const DefaultSyncEvery = 3 * time.Hour

// SyncPeriod is the directory's full-pass period.
func (d *Directory) SyncPeriod() time.Duration {
	if v, err := time.ParseDuration(d.SyncEvery); err == nil && v > 0 {
		return v
	}
	return DefaultSyncEvery
}

// ImportPeriod is the period of scheduled imports; 0 means none.
func (d *Directory) ImportPeriod() time.Duration {
	if v, err := time.ParseDuration(d.ImportEvery); err == nil && v > 0 {
		return v
	}
	return 0
}

func directoryAAD(name string) []byte { return []byte("directory/" + name) }

// PutDirectory creates or replaces a directory. secrets, when not nil,
// replace the stored credentials (sealed before they reach etcd); nil keeps
// them.
func (a *Authority) PutDirectory(ctx context.Context, d *Directory, secrets map[string]string) (*Directory, error) {
	if err := checkName("name", d.Name, false); err != nil {
		return nil, err
	}
	if d.Kind == "" {
		return nil, invalid("kind", "is required")
	}
	switch d.Mode {
	case "":
		d.Mode = "push"
	case "push", "report":
	default:
		return nil, invalid("mode", "must be push or report")
	}
	switch d.Login {
	case "", "email", "userName":
	default:
		return nil, invalid("login", "must be email or userName")
	}
	for _, f := range []struct{ name, v string }{{"syncEvery", d.SyncEvery}, {"importEvery", d.ImportEvery}} {
		if f.v == "" {
			continue
		}
		if v, err := time.ParseDuration(f.v); err != nil || v < time.Minute {
			return nil, invalid(f.name, "must be a duration of at least 1m, such as 3h")
		}
	}
	for _, g := range d.Groups {
		if _, err := a.store.GetGroup(ctx, g); err != nil {
			return nil, invalid("groups", "no group with id %q", g)
		}
	}
	c := *d
	now := a.now().UTC()
	c.Created, c.Modified = now, now
	old, err := a.GetDirectory(ctx, d.Name)
	switch {
	case err == nil:
		c.Created = old.Created
		if secrets == nil {
			c.Secrets = old.Secrets
		}
		if old.Kind != c.Kind {
			return nil, invalid("kind", "a directory's kind cannot change (%s); remove it and add it again", old.Kind)
		}
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	if secrets != nil {
		b, _ := json.Marshal(secrets)
		sealed, err := a.keys.Seal(b, directoryAAD(d.Name))
		if err != nil {
			return nil, err
		}
		c.Secrets = sealed
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	if err := a.store.PutObject(ctx, objDirectories, c.Name, b, 0); err != nil {
		return nil, err
	}
	a.store.AppendAudit(ctx, a.audit(ctx, "directory.put", "directory", c.Name, map[string]string{"kind": c.Kind, "mode": c.Mode}))
	return &c, nil
}

// GetDirectory reads a directory (its secrets stay sealed).
func (a *Authority) GetDirectory(ctx context.Context, name string) (*Directory, error) {
	o, err := a.store.GetObject(ctx, objDirectories, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &store.NotFoundError{Kind: "directory", Key: name}
		}
		return nil, err
	}
	d := new(Directory)
	if err := json.Unmarshal(o.Value, d); err != nil {
		return nil, fmt.Errorf("directory record %s: %w", name, err)
	}
	return d, nil
}

// DirectorySecrets unseals a directory's credentials, for its connector.
func (a *Authority) DirectorySecrets(d *Directory) (map[string]string, error) {
	out := map[string]string{}
	if d.Secrets == "" {
		return out, nil
	}
	b, err := a.keys.Open(d.Secrets, directoryAAD(d.Name))
	if err != nil {
		return nil, fmt.Errorf("opening the credentials of %s: %w", d.Name, err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListDirectories returns every directory by name.
func (a *Authority) ListDirectories(ctx context.Context) ([]*Directory, error) {
	objs, err := a.store.ListObjects(ctx, objDirectories, "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]*Directory, 0, len(objs))
	for _, o := range objs {
		d := new(Directory)
		if json.Unmarshal(o.Value, d) == nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteDirectory removes a directory. Its bindings must be gone first
// (unbind the users, which disables their accounts), so that removing a
// directory never leaves accounts enabled that nobody manages.
func (a *Authority) DeleteDirectory(ctx context.Context, name string) error {
	if _, err := a.GetDirectory(ctx, name); err != nil {
		return err
	}
	bs, err := a.store.BindingsOf(ctx, name)
	if err != nil {
		return err
	}
	if len(bs) > 0 {
		return invalid("directory", "%d users are still bound to %s; unbind them first (their accounts get disabled), or remove the directory's groups", len(bs), name)
	}
	if err := a.store.DeleteObject(ctx, objDirectories, name); err != nil {
		return err
	}
	a.store.AppendAudit(ctx, a.audit(ctx, "directory.delete", "directory", name, nil))
	return nil
}

// The calls below are the connector framework's view of the store: it
// reads the outbox and bindings and writes back only binding status.

// Outbox lists a directory's pending outbox entries.
func (a *Authority) Outbox(ctx context.Context, directory string, limit int) ([]store.OutboxEntry, error) {
	return a.store.Outbox(ctx, directory, limit)
}

// OutboxFor lists one user's pending entries for a directory.
func (a *Authority) OutboxFor(ctx context.Context, directory, userID string) ([]store.OutboxEntry, error) {
	return a.store.OutboxFor(ctx, directory, userID)
}

// Delivered removes an entry the target accepted, unless a newer one
// replaced it meanwhile (ErrPrecondition: that one is still to deliver).
func (a *Authority) Delivered(ctx context.Context, e store.OutboxEntry) error {
	return a.store.DeleteOutbox(ctx, e)
}

// Retry records a failed attempt on an entry (attempts, the error, when
// to try again, or dead).
func (a *Authority) Retry(ctx context.Context, e store.OutboxEntry) error {
	return a.store.UpdateOutbox(ctx, e)
}

// EnqueueSync asks the directory's worker to reconcile the users.
func (a *Authority) EnqueueSync(ctx context.Context, directory string, userIDs []string) error {
	for len(userIDs) > 0 {
		n := min(len(userIDs), 50)
		es := make([]store.OutboxEntry, 0, n)
		for _, id := range userIDs[:n] {
			es = append(es, store.OutboxEntry{Directory: directory, UserID: id, Kind: OutboxSync})
		}
		if err := a.store.EnqueueOutbox(ctx, es, store.Write{}); err != nil {
			// One binding went away meanwhile: enqueue one by one.
			for _, e := range es {
				if err := a.store.EnqueueOutbox(ctx, []store.OutboxEntry{e}, store.Write{}); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			}
		}
		userIDs = userIDs[n:]
	}
	return nil
}

// BindingsOf lists the bindings to a directory.
func (a *Authority) BindingsOf(ctx context.Context, directory string) ([]Binding, error) {
	return a.store.BindingsOf(ctx, directory)
}

// UpdateBinding records what the worker found (status, external id) or
// finishes an unbinding.
func (a *Authority) UpdateBinding(ctx context.Context, userID, directory string, fn func(*Binding)) (*Binding, error) {
	return a.store.UpdateBinding(ctx, userID, directory, func(b *Binding) (store.Write, error) {
		fn(b)
		return store.Write{}, nil
	})
}

// RemoveBinding deletes a binding once its account is disabled.
func (a *Authority) RemoveBinding(ctx context.Context, userID, directory string) error {
	err := a.store.DeleteBinding(ctx, userID, directory, store.Write{})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// WatchOutbox signals when entries for the directory are written.
func (a *Authority) WatchOutbox(ctx context.Context, directory string) <-chan struct{} {
	return a.store.WatchOutbox(ctx, directory)
}

// Lock takes a named lock shared by every replica.
func (a *Authority) Lock(ctx context.Context, name string, ttlSeconds int) (context.Context, func(), error) {
	return a.store.Lock(ctx, name, ttlSeconds)
}

// BindingFor reads one binding, also after its user was deleted.
func (a *Authority) BindingFor(ctx context.Context, userID, directory string) (*Binding, error) {
	bs, err := a.store.Bindings(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range bs {
		if bs[i].Directory == directory {
			return &bs[i], nil
		}
	}
	return nil, &store.NotFoundError{Kind: "binding", Key: userID + "/" + directory}
}

// allUsersDirectories returns the directories that bind every user,
// cached for two seconds (user creation is a hot path).
func (a *Authority) allUsersDirectories(ctx context.Context) ([]string, error) {
	a.dirMu.Lock()
	defer a.dirMu.Unlock()
	if time.Since(a.dirAt) < 2*time.Second {
		return a.dirAll, nil
	}
	ds, err := a.ListDirectories(ctx)
	if err != nil {
		return nil, err
	}
	a.dirAll = a.dirAll[:0]
	for _, d := range ds {
		if d.AllUsers {
			a.dirAll = append(a.dirAll, d.Name)
		}
	}
	a.dirAt = time.Now()
	return a.dirAll, nil
}

// newUserWrite adds to w what creating u means for the directories that
// take every user: a binding each, a sync entry, and the password sealed
// for them when one was given.
func (a *Authority) newUserWrite(ctx context.Context, u *User, pw string, w store.Write) (store.Write, error) {
	dirs, err := a.allUsersDirectories(ctx)
	if err != nil {
		return w, err
	}
	var bs []Binding
	for _, d := range dirs {
		bs = append(bs, Binding{UserID: u.ID, Directory: d, Source: "all", Status: "pending", NeedsPassword: pw == ""})
		w.Outbox = append(w.Outbox, store.OutboxEntry{Directory: d, UserID: u.ID, Kind: OutboxSync})
	}
	w.Bindings = bs
	if pw != "" && len(bs) > 0 {
		es, err := a.sealFor(bs, u.ID, pw)
		if err != nil {
			return w, err
		}
		w.Outbox = append(w.Outbox, es...)
	}
	return w, nil
}

// BindMany binds users to a directory (a group or all-users pass), fifty
// to a transaction; users deleted meanwhile are skipped.
func (a *Authority) BindMany(ctx context.Context, directory, source string, userIDs []string) error {
	for len(userIDs) > 0 {
		n := min(len(userIDs), 50)
		chunk := userIDs[:n]
		userIDs = userIDs[n:]
		bs := make([]Binding, 0, n)
		w := store.Write{}
		for _, id := range chunk {
			bs = append(bs, Binding{UserID: id, Directory: directory, Source: source, Status: "pending", NeedsPassword: true})
			w.Outbox = append(w.Outbox, store.OutboxEntry{Directory: directory, UserID: id, Kind: OutboxSync})
		}
		err := a.store.PutBindings(ctx, bs, w)
		if errors.Is(err, ErrNotFound) {
			for _, id := range chunk { // one went away: one by one
				if _, err := a.BindAccount(ctx, &Binding{UserID: id, Directory: directory, Source: source}); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Settle records a delivery in one transaction: the binding's new state
// and the removal of the delivered entries. It fails with ErrPrecondition
// when something changed meanwhile; callers then settle step by step.
func (a *Authority) Settle(ctx context.Context, b Binding, delivered []store.OutboxEntry) error {
	return a.store.SettleBinding(ctx, b, delivered)
}
