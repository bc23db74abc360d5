// Package storetest is the conformance suite every store.Store
// implementation must pass, in the manner of Dex's storage/conformance.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// Backend opens stores on one shared backend: two stores opened from it
// behave like two replicas on one etcd cluster.
type Backend interface {
	Open(t *testing.T) store.Store
}

// Run runs every conformance test against stores of backend b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"UserCreateGetLookup", testUserCreateGetLookup},
		{"UserUniqueness", testUserUniqueness},
		{"UserUpdate", testUserUpdate},
		{"UserDelete", testUserDelete},
		{"ConcurrentCreateOneWinner", testConcurrentCreate},
		{"ConcurrentUpdatesNoLostWrite", testConcurrentUpdates},
		{"CreateUsersBatch", testCreateUsersBatch},
		{"ListPaging", testListPaging},
		{"Groups", testGroups},
		{"Membership", testMembership},
		{"ChangeGroupAtomic", testChangeGroup},
		{"ServiceAccounts", testServiceAccounts},
		{"Tokens", testTokens},
		{"PasswordOutbox", testPasswordOutbox},
		{"OutboxBindingRace", testOutboxBindingRace},
		{"Audit", testAudit},
		{"ReplicaSeesWrites", testReplica},
		{"Objects", testObjects},
		{"ObjectTakenOnce", testObjectTakenOnce},
		{"ObjectExpires", testObjectExpires},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// uniq makes names unique per test, since tests share a backend.
var seq atomic.Int64

func uniq(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

func newUser(name string) *store.User {
	return &store.User{
		UserName: name,
		Name:     store.Name{GivenName: "Given", FamilyName: name},
		Emails:   []store.Email{{Value: name + "@example.com", Type: "work", Primary: true}},
		State:    store.StateActive,
	}
}

func mustCreate(t *testing.T, s store.Store, u *store.User) *store.User {
	t.Helper()
	got, err := s.CreateUser(ctx(t), u, store.Write{})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.UserName, err)
	}
	return got
}

func wantConflict(t *testing.T, err error, field string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a ConflictError on %s", err, field)
	}
	if ce.Field != field {
		t.Fatalf("conflict on %q, want %q (%v)", ce.Field, field, err)
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("errors.Is(%v, ErrConflict) = false", err)
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v, want not found", err)
	}
}

func testUserCreateGetLookup(t *testing.T, b Backend) {
	s := b.Open(t)
	name := uniq("Alice")
	u := newUser(name)
	u.ExternalID = uniq("ext-")
	u.Emails = append(u.Emails, store.Email{Value: "Other." + name + "@Example.org", Type: "home"})
	created := mustCreate(t, s, u)
	if created.ID == "" || created.Version == 0 {
		t.Fatalf("created user lacks id or version: %+v", created)
	}
	if created.UIDNumber < 1000 || created.GIDNumber != created.UIDNumber {
		t.Fatalf("POSIX numbers not allocated: uid %d gid %d", created.UIDNumber, created.GIDNumber)
	}
	got, err := s.GetUser(ctx(t), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserName != name || got.Version != created.Version || got.Name.FamilyName != name {
		t.Fatalf("GetUser = %+v, want %+v", got, created)
	}
	lookups := []struct {
		by    store.LookupField
		value string
	}{
		{store.ByUserName, name},
		{store.ByUserName, "ALICE" + name[5:]},
		{store.ByEmail, name + "@EXAMPLE.com"},
		{store.ByEmail, "other." + name + "@example.org"},
		{store.ByExternalID, u.ExternalID},
		{store.ByUIDNumber, fmt.Sprint(created.UIDNumber)},
	}
	for _, l := range lookups {
		got, err := s.LookupUser(ctx(t), l.by, l.value)
		if err != nil {
			t.Fatalf("LookupUser(%d, %q): %v", l.by, l.value, err)
		}
		if got.ID != created.ID {
			t.Fatalf("LookupUser(%d, %q) = %s, want %s", l.by, l.value, got.ID, created.ID)
		}
	}
	_, err = s.LookupUser(ctx(t), store.ByExternalID, u.ExternalID+"x")
	wantNotFound(t, err)
	_, err = s.GetUser(ctx(t), "no-such-id")
	wantNotFound(t, err)

	// The returned record is a copy: changing it changes nothing stored.
	got.UserName = "mutated"
	again, _ := s.GetUser(ctx(t), created.ID)
	if again.UserName != name {
		t.Fatal("GetUser returned the index's own record")
	}

	second := mustCreate(t, s, newUser(uniq("bob")))
	if second.UIDNumber == created.UIDNumber {
		t.Fatal("two users got the same uidNumber")
	}
}

func testUserUniqueness(t *testing.T, b Backend) {
	s := b.Open(t)
	name := uniq("carol")
	first := newUser(name)
	first.ExternalID = uniq("x")
	first = mustCreate(t, s, first)

	dupName := newUser(uniq("other"))
	dupName.UserName = "CAROL" + name[5:]
	_, err := s.CreateUser(ctx(t), dupName, store.Write{})
	wantConflict(t, err, "userName")

	dupEmail := newUser(uniq("dave"))
	dupEmail.Emails = []store.Email{{Value: name + "@EXAMPLE.COM"}}
	_, err = s.CreateUser(ctx(t), dupEmail, store.Write{})
	wantConflict(t, err, "email")

	dupExt := newUser(uniq("erin"))
	dupExt.ExternalID = first.ExternalID
	_, err = s.CreateUser(ctx(t), dupExt, store.Write{})
	wantConflict(t, err, "externalId")

	dupUID := newUser(uniq("frank"))
	dupUID.UIDNumber = first.UIDNumber
	_, err = s.CreateUser(ctx(t), dupUID, store.Write{})
	wantConflict(t, err, "uidNumber")

	// None of the failed creates left anything behind.
	for _, u := range []*store.User{dupEmail, dupExt, dupUID} {
		_, err := s.LookupUser(ctx(t), store.ByUserName, u.UserName)
		wantNotFound(t, err)
	}
	// An explicit free uidNumber is kept.
	explicit := newUser(uniq("gina"))
	explicit.UIDNumber = 5_000_000 + seq.Add(1)
	got := mustCreate(t, s, explicit)
	if got.UIDNumber != explicit.UIDNumber {
		t.Fatalf("uidNumber %d, want %d", got.UIDNumber, explicit.UIDNumber)
	}
}

func testUserUpdate(t *testing.T, b Backend) {
	s := b.Open(t)
	u := mustCreate(t, s, newUser(uniq("hank")))
	other := mustCreate(t, s, newUser(uniq("ivan")))
	oldName := u.UserName
	newName := uniq("henry")

	updated, err := s.UpdateUser(ctx(t), u.ID, u.Version, func(x *store.User, _ []store.Binding) (store.Write, error) {
		x.UserName = newName
		x.Emails = []store.Email{{Value: newName + "@example.com", Primary: true}}
		return store.Write{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version <= u.Version {
		t.Fatalf("version did not advance: %d -> %d", u.Version, updated.Version)
	}
	if got, err := s.LookupUser(ctx(t), store.ByUserName, newName); err != nil || got.ID != u.ID {
		t.Fatalf("lookup by new name: %v %v", got, err)
	}
	_, err = s.LookupUser(ctx(t), store.ByUserName, oldName)
	wantNotFound(t, err)
	_, err = s.LookupUser(ctx(t), store.ByEmail, oldName+"@example.com")
	wantNotFound(t, err)
	// The freed name can be taken by someone else.
	mustCreate(t, s, newUser(oldName))

	// A stale version is refused and changes nothing.
	_, err = s.UpdateUser(ctx(t), u.ID, u.Version, func(x *store.User, _ []store.Binding) (store.Write, error) {
		x.Title = "stale"
		return store.Write{}, nil
	})
	if !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("stale update: got %v, want precondition failure", err)
	}
	// Taking another user's email is a conflict, and the user is unchanged.
	_, err = s.UpdateUser(ctx(t), u.ID, 0, func(x *store.User, _ []store.Binding) (store.Write, error) {
		x.Emails = append(x.Emails, store.Email{Value: other.Emails[0].Value})
		return store.Write{}, nil
	})
	wantConflict(t, err, "email")
	got, _ := s.GetUser(ctx(t), u.ID)
	if len(got.Emails) != 1 || got.Version != updated.Version {
		t.Fatalf("failed update changed the user: %+v", got)
	}
	// An error from the update function aborts it.
	boom := errors.New("boom")
	if _, err := s.UpdateUser(ctx(t), u.ID, 0, func(*store.User, []store.Binding) (store.Write, error) { return store.Write{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	_, err = s.UpdateUser(ctx(t), "missing", 0, func(*store.User, []store.Binding) (store.Write, error) { return store.Write{}, nil })
	wantNotFound(t, err)
}

func testUserDelete(t *testing.T, b Backend) {
	s := b.Open(t)
	u := newUser(uniq("judy"))
	u.ExternalID = uniq("ext")
	u = mustCreate(t, s, u)
	g, err := s.CreateGroup(ctx(t), &store.Group{DisplayName: uniq("grp")}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembers(ctx(t), g.ID, []string{u.ID}, store.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx(t), u.ID, u.Version-1, store.Write{}); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("delete at stale version: %v", err)
	}
	if err := s.DeleteUser(ctx(t), u.ID, u.Version, store.Write{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetUser(ctx(t), u.ID)
	wantNotFound(t, err)
	if ok, _ := s.IsMember(ctx(t), g.ID, u.ID); ok {
		t.Fatal("membership survived the user's deletion")
	}
	err = s.DeleteUser(ctx(t), u.ID, 0, store.Write{})
	wantNotFound(t, err)
	// Every unique value is free again.
	again := newUser(u.UserName)
	again.ExternalID = u.ExternalID
	again.UIDNumber = u.UIDNumber
	mustCreate(t, s, again)
}

func testConcurrentCreate(t *testing.T, b Backend) {
	s := b.Open(t)
	name := uniq("race")
	const n = 16
	var wg sync.WaitGroup
	var wins, conflicts atomic.Int32
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := newUser(name)
			u.Emails = []store.Email{{Value: fmt.Sprintf("%s-%d@example.com", name, i)}}
			_, err := s.CreateUser(ctx(t), u, store.Write{})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrConflict):
				conflicts.Add(1)
			default:
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected error: %v", err)
	}
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d winners and %d conflicts, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
}

func testConcurrentUpdates(t *testing.T, b Backend) {
	s := b.Open(t)
	u := mustCreate(t, s, newUser(uniq("counter")))
	const n = 8
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateUser(ctx(t), u.ID, 0, func(x *store.User, _ []store.Binding) (store.Write, error) {
				x.Roles = append(x.Roles, "r")
				return store.Write{}, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := s.GetUser(ctx(t), u.ID)
	if len(got.Roles) != n {
		t.Fatalf("%d of %d concurrent updates survived", len(got.Roles), n)
	}
}

func testCreateUsersBatch(t *testing.T, b Backend) {
	s := b.Open(t)
	taken := mustCreate(t, s, newUser(uniq("taken")))
	var users []*store.User
	for i := 0; i < 40; i++ {
		users = append(users, newUser(uniq("bulk")))
	}
	users[25] = newUser(taken.UserName) // conflicts
	users[30].UserName = users[31].UserName
	users[30].Emails = nil
	ws := make([]store.Write, len(users))
	for i := range ws {
		ws[i].Audit = &store.AuditEvent{Actor: "test", Action: "user.create"}
	}
	got, errs := s.CreateUsers(ctx(t), users, ws)
	for i := range users {
		switch i {
		case 25:
			wantConflict(t, errs[i], "userName")
		case 30, 31:
			// One of the pair wins, whichever went first.
		default:
			if errs[i] != nil {
				t.Fatalf("user %d: %v", i, errs[i])
			}
			if got[i].ID == "" || got[i].Version == 0 {
				t.Fatalf("user %d lacks id/version", i)
			}
			if _, err := s.GetUser(ctx(t), got[i].ID); err != nil {
				t.Fatalf("user %d not readable: %v", i, err)
			}
		}
	}
	if (errs[30] == nil) == (errs[31] == nil) {
		t.Fatalf("duplicate pair: errors %v and %v, want exactly one", errs[30], errs[31])
	}
}

func testListPaging(t *testing.T, b Backend) {
	s := b.Open(t)
	before, err := s.ListUsers(ctx(t), store.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		mustCreate(t, s, newUser(uniq("page")))
	}
	seen := map[string]bool{}
	var last string
	var cursor string
	pages := 0
	for {
		p, err := s.ListUsers(ctx(t), store.ListOptions{After: cursor, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, u := range p.Items {
			if seen[u.ID] {
				t.Fatalf("user %s listed twice", u.UserName)
			}
			seen[u.ID] = true
			if l := lower(u.UserName); l <= last {
				t.Fatalf("not in order: %q after %q", l, last)
			} else {
				last = l
			}
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(seen) < before.Total+25 {
		t.Fatalf("listed %d users, want at least %d", len(seen), before.Total+25)
	}
	p, _ := s.ListUsers(ctx(t), store.ListOptions{Offset: 3, Limit: 2})
	all, _ := s.ListUsers(ctx(t), store.ListOptions{Limit: 5})
	if len(p.Items) != 2 || p.Items[0].ID != all.Items[3].ID {
		t.Fatal("Offset does not skip records")
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
