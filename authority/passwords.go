package authority

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/headwater/headwater/authority/password"
	"github.com/headwater/headwater/authority/store"
)

// personal lists the values a user's password must not equal.
func personal(u *User) []string {
	out := []string{u.UserName}
	for _, e := range u.Emails {
		out = append(out, e.Value)
	}
	return out
}

// newPassword checks pw against the policy for u and hashes it.
func (a *Authority) newPassword(u *User, pw string) (*store.Password, error) {
	if err := a.policy.Check(pw, personal(u)...); err != nil {
		return nil, err
	}
	h, err := a.hasher.Hash(pw)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	return &store.Password{Hash: h, ChangedAt: a.now().UTC()}, nil
}

// outboxAAD binds a sealed password to its directory and user, so a sealed
// value copied to another entry does not open.
func outboxAAD(directory, userID string) []byte {
	return []byte("outbox/" + directory + "/" + userID + "/" + store.OutboxPassword)
}

func (a *Authority) sealFor(bindings []Binding, userID, pw string) ([]store.OutboxEntry, error) {
	out := make([]store.OutboxEntry, 0, len(bindings))
	for _, b := range bindings {
		sealed, err := a.keys.Seal([]byte(pw), outboxAAD(b.Directory, userID))
		if err != nil {
			return nil, fmt.Errorf("sealing password for %s: %w", b.Directory, err)
		}
		out = append(out, store.OutboxEntry{Directory: b.Directory, UserID: userID, Kind: store.OutboxPassword, Sealed: sealed, Created: a.now().UTC()})
	}
	return out, nil
}

// OpenOutboxPassword unseals the cleartext of a password outbox entry, for
// the connector delivering it.
func (a *Authority) OpenOutboxPassword(e store.OutboxEntry) (string, error) {
	b, err := a.keys.Open(e.Sealed, outboxAAD(e.Directory, e.UserID))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// SetPassword sets a user's password after checking the policy, including
// that it differs from the current one. In the same write, the cleartext
// is queued, sealed, for every directory the user is bound to.
func (a *Authority) SetPassword(ctx context.Context, id, pw string, mustChange bool) error {
	_, err := a.ReplaceUser(ctx, id, 0, nil, &NewPassword{Cleartext: pw, MustChange: mustChange})
	return err
}

// NewPassword is a password change that goes with a user update.
type NewPassword struct {
	Cleartext  string
	MustChange bool
}

// ReplaceUser applies fn (when not nil) and, when pw is not nil, sets the
// password, all in one write: a SCIM PUT or PATCH that changes attributes
// and the password either does both or neither. The policy is checked
// against the names the user will have after fn.
func (a *Authority) ReplaceUser(ctx context.Context, id string, ifVersion int64, fn func(*User) error, pw *NewPassword) (*User, error) {
	var hash string
	var hashedFor []string
	action := "user.update"
	if pw != nil {
		action = "user.password"
		if fn != nil {
			action = "user.update"
		}
	}
	return a.updateUser(ctx, id, ifVersion, action, func(u *User, bindings []Binding) (store.Write, error) {
		before := u.Password
		if fn != nil {
			if err := fn(u); err != nil {
				return store.Write{}, err
			}
			if u.ID != id {
				return store.Write{}, invalid("id", "cannot be changed")
			}
			if u.Password != before {
				return store.Write{}, invalid("password", "is changed through the password operation, not an update")
			}
		}
		if pw == nil {
			return store.Write{}, nil
		}
		// Check and hash once per distinct set of names: the function may
		// run again after a concurrent change, and hashing is slow.
		if names := personal(u); hash == "" || !equalStrings(names, hashedFor) {
			if err := a.policy.Check(pw.Cleartext, names...); err != nil {
				return store.Write{}, err
			}
			if hash == "" {
				if before != nil {
					if same, _, _ := a.hasher.Verify(before.Hash, pw.Cleartext); same {
						return store.Write{}, password.ReuseViolation()
					}
				}
				h, err := a.hasher.Hash(pw.Cleartext)
				if err != nil {
					return store.Write{}, fmt.Errorf("hashing password: %w", err)
				}
				hash = h
			}
			hashedFor = names
		}
		u.Password = &store.Password{Hash: hash, ChangedAt: a.now().UTC(), MustChange: pw.MustChange}
		entries, err := a.sealFor(bindings, u.ID, pw.Cleartext)
		if err != nil {
			return store.Write{}, err
		}
		return store.Write{Outbox: entries}, nil
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Principal is who authenticated.
type Principal struct {
	Kind  string // "user" or "service"
	ID    string
	Name  string
	Roles []string
	// MustChangePassword is set when an administrator reset the password
	// and asked for a change at next login.
	MustChangePassword bool
}

// HasRole reports whether the principal holds role.
func (p *Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// ResolveLogin finds the user a login names: a bare userName, an email or
// UPN, or DOMAIN\userName.
func (a *Authority) ResolveLogin(ctx context.Context, login string) (*User, error) {
	login = strings.TrimSpace(login)
	if _, name, ok := strings.Cut(login, `\`); ok {
		login = name
	}
	if login == "" {
		return nil, &NotFoundError{Kind: "user", Key: login}
	}
	if strings.Contains(login, "@") {
		if u, err := a.store.LookupUser(ctx, store.ByEmail, login); err == nil {
			return u, nil
		}
	}
	return a.store.LookupUser(ctx, store.ByUserName, login)
}

// Authenticate checks a user's password. Every failure (unknown login,
// wrong password, suspended or staged user) is ErrInvalidCredentials after
// the same work, so neither the answer nor its timing tells them apart;
// repeated failures per account and per source address back off
// (ThrottledError). source is the client's address.
func (a *Authority) Authenticate(ctx context.Context, login, pw, source string) (*Principal, error) {
	u, lookupErr := a.ResolveLogin(ctx, login)
	if lookupErr != nil && !errors.Is(lookupErr, store.ErrNotFound) {
		return nil, lookupErr
	}
	account := "login:" + strings.ToLower(strings.TrimSpace(login))
	if u != nil {
		account = "user:" + u.ID
	}
	if wait := a.limit.Check(account, source); wait > 0 {
		a.log.Warn("login throttled", "login", login, "source", source, "retry_after", wait)
		return nil, &ThrottledError{RetryAfter: wait}
	}
	var hash string
	if u != nil && u.Password != nil {
		hash = u.Password.Hash
	}
	ok, rehash := a.check(hash, pw)
	reason := ""
	switch {
	case u == nil:
		reason = "unknown login"
	case !ok:
		reason = "wrong password"
	case u.State != StateActive:
		reason = "account " + string(u.State)
	}
	if reason != "" {
		a.limit.Failure(account, source)
		a.log.Info("login failed", "login", login, "source", source, "reason", reason)
		return nil, ErrInvalidCredentials
	}
	a.limit.Success(account, source)
	if rehash {
		a.upgradeHash(ctx, u, pw)
	}
	a.takeover(ctx, u, pw)
	return &Principal{Kind: "user", ID: u.ID, Name: u.UserName, Roles: u.Roles, MustChangePassword: u.Password.MustChange}, nil
}

// check verifies pw against hash, spending the same time when there is no
// hash (unknown account, no password set) as when there is one.
func (a *Authority) check(hash, pw string) (ok, rehash bool) {
	if hash == "" {
		a.hasher.DummyVerify(pw)
		return false, false
	}
	ok, rehash, err := a.hasher.Verify(hash, pw)
	if err != nil {
		a.log.Error("stored password hash cannot be verified", "err", err)
		return false, false
	}
	return ok, rehash
}

// upgradeHash replaces an imported or outdated hash with a current
// argon2id one, now that the cleartext is at hand. It is best effort: a
// concurrent change wins.
func (a *Authority) upgradeHash(ctx context.Context, u *User, pw string) {
	h, err := a.hasher.Hash(pw)
	if err != nil {
		return
	}
	old := u.Password.Hash
	_, err = a.store.UpdateUser(ctx, u.ID, 0, func(x *User, _ []Binding) (store.Write, error) {
		if x.Password == nil || x.Password.Hash != old {
			return store.Write{}, errHashChanged
		}
		x.Password.Hash = h
		return store.Write{Audit: a.audit(ctx, "user.password.rehash", "user", u.ID, nil)}, nil
	})
	if err != nil && !errors.Is(err, errHashChanged) {
		a.log.Warn("upgrading password hash failed", "user", u.UserName, "err", err)
	}
}

var errHashChanged = errors.New("password changed meanwhile")

// takeover queues the cleartext for directories bound while no cleartext
// was known. Best effort: the next login tries again.
func (a *Authority) takeover(ctx context.Context, u *User, pw string) {
	bindings, err := a.store.Bindings(ctx, u.ID)
	if err != nil {
		a.log.Warn("password takeover: reading bindings failed", "user", u.UserName, "err", err)
		return
	}
	var waiting []Binding
	for _, b := range bindings {
		if b.NeedsPassword {
			waiting = append(waiting, b)
		}
	}
	if len(waiting) == 0 {
		return
	}
	entries, err := a.sealFor(waiting, u.ID, pw)
	if err == nil {
		err = a.store.EnqueueOutbox(ctx, entries, store.Write{Audit: a.audit(ctx, "user.password.takeover", "user", u.ID, nil)})
	}
	if err != nil {
		a.log.Warn("password takeover failed", "user", u.UserName, "err", err)
	}
}
