package authority

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/headwater/headwater/authority/store"
)

// CreateUser validates and stores a new user. A non-empty password must
// pass the policy; an empty one leaves the user without a password (they
// cannot log in until one is set).
func (a *Authority) CreateUser(ctx context.Context, u *User, pw string) (*User, error) {
	u = u.Clone()
	if err := a.prepareNewUser(ctx, u, pw); err != nil {
		return nil, err
	}
	ev := a.audit(ctx, "user.create", "user", u.ID, map[string]string{"userName": u.UserName})
	w, err := a.newUserWrite(ctx, u, pw, store.Write{Audit: ev})
	if err != nil {
		return nil, err
	}
	created, err := a.store.CreateUser(ctx, u, w)
	if err != nil {
		return nil, err
	}
	return created, nil
}

// CreateUsers creates many users (bulk import) in batched transactions.
// Each user gets its own result; one failure does not stop the others.
func (a *Authority) CreateUsers(ctx context.Context, users []*User, passwords []string) ([]*User, []error) {
	out := make([]*User, len(users))
	errs := make([]error, len(users))
	var batch []*User
	var ws []store.Write
	var pos []int
	for i, in := range users {
		u := in.Clone()
		pw := ""
		if i < len(passwords) {
			pw = passwords[i]
		}
		if err := a.prepareNewUser(ctx, u, pw); err != nil {
			errs[i] = err
			continue
		}
		w, err := a.newUserWrite(ctx, u, pw, store.Write{Audit: a.audit(ctx, "user.create", "user", u.ID, map[string]string{"userName": u.UserName, "via": "import"})})
		if err != nil {
			errs[i] = err
			continue
		}
		batch = append(batch, u)
		ws = append(ws, w)
		pos = append(pos, i)
	}
	created, cerrs := a.store.CreateUsers(ctx, batch, ws)
	for j, i := range pos {
		out[i], errs[i] = created[j], cerrs[j]
	}
	return out, errs
}

// prepareNewUser validates a user about to be created and sets what the
// server owns: id, timestamps, and the password. The password is either a
// cleartext pw, checked against the policy and hashed, or an existing hash
// in u.Password.Hash (an import from another directory), which must be of a
// scheme Verify accepts; it is upgraded to argon2id at the first login.
func (a *Authority) prepareNewUser(ctx context.Context, u *User, pw string) error {
	imported := ""
	if u.Password != nil {
		imported = u.Password.Hash
	}
	u.ID, u.Version, u.Password = uuid.NewString(), 0, nil
	if err := normalizeUser(u); err != nil {
		return err
	}
	now := a.now().UTC()
	u.Created, u.Modified = now, now
	switch {
	case pw != "" && imported != "":
		return invalid("passwordHash", "give either a password or a passwordHash, not both")
	case pw != "":
		p, err := a.newPassword(u, pw)
		if err != nil {
			return err
		}
		u.Password = p
	case imported != "":
		if err := a.hasher.CheckHash(imported); err != nil {
			return invalid("passwordHash", "%v (supported: argon2id, {SSHA}/{SSHA256}/{SSHA512}, {CRYPT} $1$/$5$/$6$, bcrypt)", err)
		}
		u.Password = &store.Password{Hash: imported, ChangedAt: now}
	}
	return nil
}

// UpdateUser applies fn to a copy of the user and stores the result if it
// is valid and the user is still at ifVersion (0: any). fn may run more
// than once; it must not change the password (use SetPassword) or the id.
func (a *Authority) UpdateUser(ctx context.Context, id string, ifVersion int64, fn func(*User) error) (*User, error) {
	return a.ReplaceUser(ctx, id, ifVersion, fn, nil)
}

// updateUser is the common path of every user change: validation,
// timestamps and an audit event naming the fields that changed.
func (a *Authority) updateUser(ctx context.Context, id string, ifVersion int64, action string, fn store.UserUpdate) (*User, error) {
	return a.store.UpdateUser(ctx, id, ifVersion, func(u *User, bs []Binding) (store.Write, error) {
		before := u.Clone()
		w, err := fn(u, bs)
		if err != nil {
			return store.Write{}, err
		}
		u.Created, u.Version = before.Created, before.Version
		if err := normalizeUser(u); err != nil {
			return store.Write{}, err
		}
		u.Modified = a.now().UTC()
		if w.Audit == nil {
			w.Audit = a.audit(ctx, action, "user", id, map[string]string{"userName": u.UserName})
		}
		if changed := changedFields(before, u); changed != "" {
			if w.Audit.Details == nil {
				w.Audit.Details = map[string]string{}
			}
			w.Audit.Details["fields"] = changed
			if syncRelevant(changed) {
				// Bound directories reconcile this user, whatever changed
				// (name, email, state): one entry per directory,
				// written with the change itself.
				for _, b := range bs {
					w.Outbox = append(w.Outbox, store.OutboxEntry{Directory: b.Directory, UserID: id, Kind: OutboxSync})
				}
			}
		}
		return w, nil
	})
}

// Outbox entry kinds: a password to deliver, or a user to reconcile.
const (
	OutboxPassword = store.OutboxPassword
	OutboxSync     = store.OutboxSync
)

// syncRelevant reports whether a change (changedFields' list) is one a
// directory cares about: anything but the password (which has its own
// entry) and the second factor.
func syncRelevant(changed string) bool {
	for _, f := range strings.Split(changed, ",") {
		switch f {
		case "password", "totp", "":
		default:
			return true
		}
	}
	return false
}

// changedFields names the top-level fields that differ, for the audit log
// (values are left out: they may be personal data).
func changedFields(before, after *User) string {
	var b, c map[string]json.RawMessage
	bj, _ := json.Marshal(before)
	cj, _ := json.Marshal(after)
	_ = json.Unmarshal(bj, &b)
	_ = json.Unmarshal(cj, &c)
	var out []string
	for k, v := range c {
		if k == "modified" {
			continue
		}
		if string(b[k]) != string(v) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := c[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Suspend disables a user: they can no longer authenticate anywhere, and
// bound directories disable the account.
func (a *Authority) Suspend(ctx context.Context, id string) (*User, error) {
	u, err := a.setState(ctx, id, StateSuspended, "user.suspend")
	if err == nil {
		// Browser sessions end now (Session also refuses a suspended user).
		if _, err := a.EndSessions(ctx, id); err != nil {
			a.log.Warn("ending sessions of a suspended user", "user", u.UserName, "err", err)
		}
	}
	return u, err
}

// Activate enables a staged or suspended user.
func (a *Authority) Activate(ctx context.Context, id string) (*User, error) {
	return a.setState(ctx, id, StateActive, "user.activate")
}

func (a *Authority) setState(ctx context.Context, id string, st State, action string) (*User, error) {
	return a.updateUser(ctx, id, 0, action, func(u *User, _ []Binding) (store.Write, error) {
		u.State = st
		return store.Write{}, nil
	})
}

// DeleteUser removes a user and their memberships.
func (a *Authority) DeleteUser(ctx context.Context, id string, ifVersion int64) error {
	u, err := a.store.GetUser(ctx, id)
	if err != nil {
		return err
	}
	ev := a.audit(ctx, "user.delete", "user", id, map[string]string{"userName": u.UserName})
	bs, err := a.store.Bindings(ctx, id)
	if err != nil {
		return err
	}
	w := store.Write{Audit: ev}
	for _, b := range bs {
		// The binding stays until its worker has disabled (or deleted) the
		// account; the entry tells it to.
		w.Outbox = append(w.Outbox, store.OutboxEntry{Directory: b.Directory, UserID: id, Kind: OutboxSync})
	}
	if err := a.store.DeleteUser(ctx, id, ifVersion, w); err != nil {
		return err
	}
	_, err = a.EndSessions(ctx, id)
	return err
}

// GetUser returns a user by id.
func (a *Authority) GetUser(ctx context.Context, id string) (*User, error) {
	return a.store.GetUser(ctx, id)
}

// LookupUser finds a user by a unique attribute.
func (a *Authority) LookupUser(ctx context.Context, by LookupField, value string) (*User, error) {
	return a.store.LookupUser(ctx, by, value)
}

// ListUsers pages through users by userName.
func (a *Authority) ListUsers(ctx context.Context, opts ListOptions) (store.Page[*User], error) {
	return a.store.ListUsers(ctx, opts)
}

// EachUser visits users in userName order; see store.Store.EachUser.
func (a *Authority) EachUser(ctx context.Context, after string, fn func(*User) bool) error {
	return a.store.EachUser(ctx, after, fn)
}

// Counts returns how many users and groups there are.
func (a *Authority) Counts() (users, groups int) { return a.store.Counts() }

// Bindings lists the directories a user is bound to.
func (a *Authority) Bindings(ctx context.Context, userID string) ([]Binding, error) {
	if _, err := a.store.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	return a.store.Bindings(ctx, userID)
}

// Bind binds a user to a directory. Until a password reaches it, the
// binding waits for one: the next password change or successful login.
func (a *Authority) Bind(ctx context.Context, userID, directory, mode string) (*Binding, error) {
	if err := checkName("directory", directory, false); err != nil {
		return nil, err
	}
	return a.BindAccount(ctx, &Binding{UserID: userID, Directory: directory, Mode: mode, Source: "direct"})
}

// BindAccount binds a user to a directory with the binding's details (an
// import knows the account's id). The directory's worker reconciles the
// user at once; the binding waits for a password until one reaches it.
func (a *Authority) BindAccount(ctx context.Context, b *Binding) (*Binding, error) {
	if err := checkName("directory", b.Directory, false); err != nil {
		return nil, err
	}
	if b.Mode != "" && b.Mode != "push" && b.Mode != "report" {
		return nil, invalid("mode", "must be push or report")
	}
	c := *b
	c.NeedsPassword, c.Status, c.Unbound = true, "pending", false
	if c.Source == "" {
		c.Source = "direct"
	}
	ev := a.audit(ctx, "binding.create", "user", c.UserID, map[string]string{"directory": c.Directory, "source": c.Source})
	return a.store.PutBinding(ctx, &c, store.Write{Audit: ev, Outbox: []store.OutboxEntry{{Directory: c.Directory, UserID: c.UserID, Kind: OutboxSync}}})
}

// Unbind removes a user's binding to a directory.
func (a *Authority) Unbind(ctx context.Context, userID, directory string) error {
	ev := a.audit(ctx, "binding.delete", "user", userID, map[string]string{"directory": directory})
	_, err := a.store.UpdateBinding(ctx, userID, directory, func(b *Binding) (store.Write, error) {
		b.Unbound, b.Status = true, "pending"
		return store.Write{Audit: ev, Outbox: []store.OutboxEntry{{Directory: directory, UserID: userID, Kind: OutboxSync}}}, nil
	})
	return err
}
