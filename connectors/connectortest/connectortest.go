// Package connectortest is the conformance suite every connectors.Connector
// must pass, run by each target's own tests against a real target (or, for
// Microsoft 365, the Graph emulator), so that the framework can rely on the
// same behaviour from all of them.
//
// A target's test supplies a Harness: how to build a connector, how to make
// accounts the target accepts and one it must refuse, and how to look at
// and change an account in the target without going through the connector.
// Run then checks the contract documented on connectors.Connector.
package connectortest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/headwater/headwater/connectors"
)

// DuplicateCreate is what a target does when asked to create a login it
// already has. Both are safe, because the framework looks an account up
// with Find before it creates one; a target's Harness says which it does
// and Run holds it to that.
type DuplicateCreate int

const (
	// DuplicateRejected: Create fails with a KindRejected error and the
	// existing account is left as it was (Microsoft 365, Active Directory).
	DuplicateRejected DuplicateCreate = iota
	// DuplicateReturnsExisting: Create returns the existing account.
	DuplicateReturnsExisting
)

// Harness is what a target's test gives Run.
type Harness struct {
	// New builds a connector to the target. Run calls it once per subtest
	// and closes what it returns.
	New func(t *testing.T) connectors.Connector
	// Desired returns an account the target accepts, with a login and an
	// email never returned before. All its logins share one domain, so
	// that renaming an account to another of them is allowed everywhere.
	Desired func(t *testing.T) connectors.Desired
	// Invalid is an account the target must refuse: Check and Create
	// return a KindRejected error for it.
	Invalid connectors.Desired
	// Password returns a new password the target's policy accepts; nil
	// uses a generator of 20 characters of four classes.
	Password func() string
	// Peek reads an account in the target directly, without the
	// connector; found is false when the target has no such account.
	Peek func(t *testing.T, id string) (acct connectors.Account, found bool)
	// PasswordIs reports whether password is the account's password in the
	// target (by reading it, or by signing in with it).
	PasswordIs func(t *testing.T, id, password string) bool
	// SetEnabled enables or disables an account in the target without the
	// connector, as an administrator would in the target's own console.
	SetEnabled func(t *testing.T, id string, enabled bool)
	// Duplicate is what the target's Create does with a login it has.
	Duplicate DuplicateCreate
}

// Run checks the connector contract against one target. It creates
// accounts through the connector and deletes them when it ends.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Desired == nil || h.Peek == nil || h.PasswordIs == nil || h.SetEnabled == nil {
		t.Fatal("connectortest: the Harness needs New, Desired, Peek, PasswordIs and SetEnabled")
	}
	if h.Password == nil {
		h.Password = generatePassword
	}
	s := &suite{h: h}
	t.Run("Test", s.testTest)
	t.Run("Check", s.testCheck)
	t.Run("CreateGetFind", s.testCreateGetFind)
	t.Run("CreateDuplicate", s.testCreateDuplicate)
	t.Run("Update", s.testUpdate)
	t.Run("Enabled", s.testEnabled)
	t.Run("SetPassword", s.testSetPassword)
	t.Run("Delete", s.testDelete)
	t.Run("List", s.testList)
	t.Run("Changes", s.testChanges)
	t.Run("Concurrent", s.testConcurrent)
}

type suite struct {
	h Harness
}

// conn builds a connector that is closed when the subtest ends.
func (s *suite) conn(t *testing.T) connectors.Connector {
	t.Helper()
	c := s.h.New(t)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// create makes an account through c and deletes it when the subtest ends.
func (s *suite) create(t *testing.T, c connectors.Connector, d connectors.Desired) (*connectors.Account, string) {
	t.Helper()
	pw := s.h.Password()
	a, err := c.Create(t.Context(), d, pw)
	if err != nil {
		t.Fatalf("Create(%s): %v", d.Login, err)
	}
	if a == nil || a.ID == "" {
		t.Fatalf("Create(%s) returned no account id: %+v", d.Login, a)
	}
	s.deleteLater(t, a.ID)
	return a, pw
}

// deleteLater deletes an account when the subtest ends.
func (s *suite) deleteLater(t *testing.T, id string) {
	t.Cleanup(func() {
		// The subtest's context is done by now and its connector may be
		// closed, so clean up with fresh ones.
		cc := s.h.New(t)
		defer cc.Close()
		if err := cc.Delete(context.Background(), id); err != nil && !errors.Is(err, connectors.ErrNotFound) {
			t.Logf("cleanup: Delete(%s): %v", id, err)
		}
	})
}

func (s *suite) testTest(t *testing.T) {
	c := s.conn(t)
	if err := c.Test(t.Context()); err != nil {
		t.Fatalf("Test: %v", err)
	}
}

func (s *suite) testCheck(t *testing.T) {
	c := s.conn(t)
	if err := c.Check(t.Context(), s.h.Desired(t)); err != nil {
		t.Errorf("Check of a valid account: %v", err)
	}
	err := c.Check(t.Context(), s.h.Invalid)
	if err == nil {
		t.Fatalf("Check(%+v) accepted the account the harness says the target refuses", s.h.Invalid)
	}
	if k := connectors.KindOf(err); k != connectors.KindRejected {
		t.Errorf("Check of the invalid account: kind %v, want rejected (%v)", k, err)
	}
	if strings.TrimSpace(err.Error()) == "" {
		t.Error("Check's refusal has no message to show an administrator")
	}
	_, err = c.Create(t.Context(), s.h.Invalid, s.h.Password())
	if k := connectors.KindOf(err); err == nil || k != connectors.KindRejected {
		t.Errorf("Create of the invalid account: %v (kind %v), want a rejected error", err, k)
	}
}

func (s *suite) testCreateGetFind(t *testing.T) {
	c := s.conn(t)
	ctx := t.Context()
	d := s.h.Desired(t)
	a, _ := s.create(t, c, d)
	sameAccount(t, "Create's result", *a, d)

	got, err := c.Get(ctx, a.ID)
	if err != nil {
		t.Fatalf("Get(%s) right after Create: %v", a.ID, err)
	}
	if got.ID != a.ID {
		t.Errorf("Get(%s) returned id %s", a.ID, got.ID)
	}
	sameAccount(t, "Get", *got, d)
	if p, ok := s.h.Peek(t, a.ID); !ok {
		t.Errorf("the target has no account %s after Create", a.ID)
	} else {
		sameAccount(t, "the target's account", p, d)
	}

	finds := []struct{ name, login, email string }{
		{"login", d.Login, ""},
		{"login in upper case", strings.ToUpper(d.Login), ""},
		{"email", "", d.Email},
		{"email in upper case", "", strings.ToUpper(d.Email)},
		{"email after an unknown login", "nobody-" + d.Login, d.Email},
		{"login and email", d.Login, d.Email},
	}
	for _, f := range finds {
		got, err := c.Find(ctx, f.login, f.email)
		if err != nil {
			t.Errorf("Find by %s (%q, %q): %v", f.name, f.login, f.email, err)
			continue
		}
		if got.ID != a.ID {
			t.Errorf("Find by %s returned %s, want %s", f.name, got.ID, a.ID)
		}
	}
	other := s.h.Desired(t)
	if got, err := c.Find(ctx, other.Login, other.Email); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("Find of an account never created: %+v, %v; want ErrNotFound", got, err)
	}
}

func (s *suite) testCreateDuplicate(t *testing.T) {
	c := s.conn(t)
	d := s.h.Desired(t)
	a, _ := s.create(t, c, d)
	again, err := c.Create(t.Context(), d, s.h.Password())
	switch s.h.Duplicate {
	case DuplicateRejected:
		if err == nil {
			t.Fatalf("second Create of %s succeeded (%+v); the harness says the target rejects it", d.Login, again)
		}
		if k := connectors.KindOf(err); k != connectors.KindRejected {
			t.Errorf("second Create of %s: kind %v, want rejected (%v)", d.Login, k, err)
		}
	case DuplicateReturnsExisting:
		if err != nil {
			t.Fatalf("second Create of %s: %v; the harness says the target returns the existing account", d.Login, err)
		}
		if again.ID != a.ID {
			t.Errorf("second Create of %s returned %s, want the existing %s", d.Login, again.ID, a.ID)
		}
	}
	got, err := c.Find(t.Context(), d.Login, "")
	if err != nil || got.ID != a.ID {
		t.Errorf("after the second Create, Find(%s) = %+v, %v; want the first account %s", d.Login, got, err, a.ID)
	}
}

func (s *suite) testUpdate(t *testing.T) {
	c := s.conn(t)
	d := s.h.Desired(t)
	a, _ := s.create(t, c, d)
	fresh := s.h.Desired(t)
	cases := []struct {
		name  string
		patch connectors.Patch
	}{
		{"GivenName", connectors.Patch{GivenName: ptr("Ada" + suffix())}},
		{"FamilyName", connectors.Patch{FamilyName: ptr("Lovelace" + suffix())}},
		{"DisplayName", connectors.Patch{DisplayName: ptr("Ada Lovelace " + suffix())}},
		{"Email", connectors.Patch{Email: ptr(fresh.Email)}},
		{"Login", connectors.Patch{Login: ptr(fresh.Login)}},
		{"Several", connectors.Patch{GivenName: ptr("Grace"), FamilyName: ptr("Hopper"), DisplayName: ptr("Grace Hopper")}},
	}
	want := d
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Update(t.Context(), a.ID, tc.patch); err != nil {
				t.Fatalf("Update %s: %v", tc.name, err)
			}
			applyPatch(&want, tc.patch)
			got, err := c.Get(t.Context(), a.ID)
			if err != nil {
				t.Fatalf("Get after Update %s: %v", tc.name, err)
			}
			sameAccount(t, "Get after Update "+tc.name, *got, want)
			p, ok := s.h.Peek(t, a.ID)
			if !ok {
				t.Fatalf("the target lost account %s after Update %s", a.ID, tc.name)
			}
			sameAccount(t, "the target's account after Update "+tc.name, p, want)
		})
	}
	if err := c.Update(t.Context(), a.ID, connectors.Patch{}); err != nil {
		t.Errorf("an empty Update: %v", err)
	}
	if got, err := c.Find(t.Context(), want.Login, ""); err != nil || got.ID != a.ID {
		t.Errorf("Find by the new login %s: %+v, %v", want.Login, got, err)
	}
}

func (s *suite) testEnabled(t *testing.T) {
	c := s.conn(t)
	d := s.h.Desired(t)
	a, _ := s.create(t, c, d)
	for _, enabled := range []bool{false, true, false} {
		if err := c.Update(t.Context(), a.ID, connectors.Patch{Enabled: &enabled}); err != nil {
			t.Fatalf("Update Enabled=%v: %v", enabled, err)
		}
		got, err := c.Get(t.Context(), a.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.Enabled != enabled {
			t.Errorf("Get after Enabled=%v says Enabled=%v", enabled, got.Enabled)
		}
		if p, ok := s.h.Peek(t, a.ID); !ok || p.Enabled != enabled {
			t.Errorf("the target's account after Enabled=%v: %+v (found %v)", enabled, p, ok)
		}
	}
}

func (s *suite) testSetPassword(t *testing.T) {
	c := s.conn(t)
	a, first := s.create(t, c, s.h.Desired(t))
	if !s.h.PasswordIs(t, a.ID, first) {
		t.Errorf("the target does not have the password given to Create")
	}
	second := s.h.Password()
	if err := c.SetPassword(t.Context(), a.ID, second); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if !s.h.PasswordIs(t, a.ID, second) {
		t.Errorf("the target does not have the password given to SetPassword")
	}
	if s.h.PasswordIs(t, a.ID, first) {
		t.Errorf("the old password still works after SetPassword")
	}
	// Delivery is at least once: the same password again must succeed.
	if err := c.SetPassword(t.Context(), a.ID, second); err != nil {
		t.Errorf("SetPassword repeated: %v", err)
	}
}

func (s *suite) testDelete(t *testing.T) {
	c := s.conn(t)
	ctx := t.Context()
	d := s.h.Desired(t)
	a, _ := s.create(t, c, d)
	if err := c.Delete(ctx, a.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, err := c.Get(ctx, a.ID); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("Get after Delete: %+v, %v; want ErrNotFound", got, err)
	}
	if _, ok := s.h.Peek(t, a.ID); ok {
		t.Errorf("the target still has account %s after Delete", a.ID)
	}
	if got, err := c.Find(ctx, d.Login, d.Email); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("Find after Delete: %+v, %v; want ErrNotFound", got, err)
	}
	// Repeated deliveries: deleting again is done already, or not found.
	if err := c.Delete(ctx, a.ID); err != nil && !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("second Delete: %v; want nil or ErrNotFound", err)
	}
	on := true
	if err := c.Update(ctx, a.ID, connectors.Patch{Enabled: &on}); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("Update of a deleted account: %v; want ErrNotFound", err)
	}
	if err := c.SetPassword(ctx, a.ID, s.h.Password()); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("SetPassword of a deleted account: %v; want ErrNotFound", err)
	}
	// An id the connector could never have made names no account either.
	if got, err := c.Get(ctx, "connectortest-no-such-account"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("Get of a made-up id: %+v, %v; want ErrNotFound", got, err)
	}
}

func (s *suite) testList(t *testing.T) {
	c := s.conn(t)
	want := map[string]connectors.Desired{}
	for range 3 {
		d := s.h.Desired(t)
		a, _ := s.create(t, c, d)
		want[a.ID] = d
	}
	seen := map[string]int{}
	err := c.List(t.Context(), func(a connectors.Account) error {
		seen[a.ID]++
		if d, ok := want[a.ID]; ok {
			sameAccount(t, "List", a, d)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("List saw account %s %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("List saw account %s %d times", id, n)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err = c.List(t.Context(), func(connectors.Account) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List after fn failed: %v after %d calls; want fn's error after 1 call", err, calls)
	}
}

func (s *suite) testChanges(t *testing.T) {
	c := s.conn(t)
	ctx := t.Context()
	gone, _ := s.create(t, c, s.h.Desired(t))
	changed, _ := s.create(t, c, s.h.Desired(t))

	accts, cur, err := c.Changes(ctx, "")
	if errors.Is(err, connectors.ErrNoChangeFeed) {
		t.Skip("the target has no change feed")
	}
	if err != nil {
		t.Fatalf("Changes(\"\"): %v", err)
	}
	if len(accts) != 0 {
		t.Errorf("starting the feed returned %d accounts, want none (only a cursor)", len(accts))
	}
	if cur == "" {
		t.Fatal("starting the feed returned no cursor")
	}

	s.h.SetEnabled(t, changed.ID, false)
	if err := c.Delete(ctx, gone.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	accts, cur2, err := c.Changes(ctx, cur)
	if err != nil {
		t.Fatalf("Changes since the start: %v", err)
	}
	if cur2 == "" {
		t.Error("Changes returned no next cursor")
	}
	last := lastByID(accts)
	if a, ok := last[changed.ID]; !ok {
		t.Errorf("the account disabled in the target (%s) is not among the changes %+v", changed.ID, accts)
	} else if a.Deleted || a.Enabled {
		t.Errorf("the account disabled in the target comes back as %+v, want enabled=false and not deleted", a)
	}
	if a, ok := last[gone.ID]; !ok {
		t.Errorf("the deleted account (%s) is not among the changes %+v", gone.ID, accts)
	} else if !a.Deleted {
		t.Errorf("the deleted account comes back as %+v, want Deleted", a)
	}

	// The next cursor carries on from there.
	s.h.SetEnabled(t, changed.ID, true)
	accts, _, err = c.Changes(ctx, cur2)
	if err != nil {
		t.Fatalf("Changes with the next cursor: %v", err)
	}
	if a, ok := lastByID(accts)[changed.ID]; !ok || !a.Enabled {
		t.Errorf("the account enabled again is %+v (reported %v), want enabled", a, ok)
	}
}

func lastByID(accts []connectors.Account) map[string]connectors.Account {
	m := map[string]connectors.Account{}
	for _, a := range accts {
		m[a.ID] = a
	}
	return m
}

// sameAccount compares an account with what was desired: logins and
// emails without regard to case, as every target treats them.
func sameAccount(t *testing.T, what string, got connectors.Account, want connectors.Desired) {
	t.Helper()
	var diffs []string
	if !strings.EqualFold(got.Login, want.Login) {
		diffs = append(diffs, fmt.Sprintf("login %q, want %q", got.Login, want.Login))
	}
	if !strings.EqualFold(got.Email, want.Email) {
		diffs = append(diffs, fmt.Sprintf("email %q, want %q", got.Email, want.Email))
	}
	if got.GivenName != want.GivenName {
		diffs = append(diffs, fmt.Sprintf("given name %q, want %q", got.GivenName, want.GivenName))
	}
	if got.FamilyName != want.FamilyName {
		diffs = append(diffs, fmt.Sprintf("family name %q, want %q", got.FamilyName, want.FamilyName))
	}
	if want.DisplayName != "" && got.DisplayName != want.DisplayName {
		diffs = append(diffs, fmt.Sprintf("display name %q, want %q", got.DisplayName, want.DisplayName))
	}
	if got.Enabled != want.Enabled {
		diffs = append(diffs, fmt.Sprintf("enabled %v, want %v", got.Enabled, want.Enabled))
	}
	if got.Deleted {
		diffs = append(diffs, "marked deleted")
	}
	if len(diffs) > 0 {
		t.Errorf("%s: %s", what, strings.Join(diffs, "; "))
	}
}

func applyPatch(d *connectors.Desired, p connectors.Patch) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&d.Login, p.Login)
	set(&d.Email, p.Email)
	set(&d.GivenName, p.GivenName)
	set(&d.FamilyName, p.FamilyName)
	set(&d.DisplayName, p.DisplayName)
	if p.Enabled != nil {
		d.Enabled = *p.Enabled
	}
}

func ptr[T any](v T) *T { return &v }

// suffix makes values differ between runs against a target that keeps
// accounts.
func suffix() string { return rand.Text()[:6] }

// generatePassword satisfies the usual policies (length, four classes).
func generatePassword() string {
	return "Ct-" + rand.Text()[:12] + "-9a!"
}

// testConcurrent uses one connector from several goroutines, as a worker
// does: each creates, reads and disables its own account.
func (s *suite) testConcurrent(t *testing.T) {
	c := s.conn(t)
	const n = 8
	type work struct {
		d  connectors.Desired
		pw string
		id string
	}
	ws := make([]*work, n)
	for i := range ws {
		ws[i] = &work{d: s.h.Desired(t), pw: s.h.Password()}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				a, err := c.Create(t.Context(), w.d, w.pw)
				if err != nil {
					return fmt.Errorf("Create(%s): %w", w.d.Login, err)
				}
				w.id = a.ID
				if _, err := c.Get(t.Context(), a.ID); err != nil {
					return fmt.Errorf("Get(%s): %w", a.ID, err)
				}
				off := false
				if err := c.Update(t.Context(), a.ID, connectors.Patch{Enabled: &off}); err != nil {
					return fmt.Errorf("Update(%s): %w", a.ID, err)
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	for i, w := range ws {
		if w.id != "" {
			s.deleteLater(t, w.id)
		}
		if errs[i] != nil {
			t.Errorf("goroutine %d: %v", i, errs[i])
			continue
		}
		p, ok := s.h.Peek(t, w.id)
		if !ok {
			t.Errorf("goroutine %d: the target has no account %s", i, w.id)
			continue
		}
		w.d.Enabled = false
		sameAccount(t, fmt.Sprintf("goroutine %d's account", i), p, w.d)
	}
}
