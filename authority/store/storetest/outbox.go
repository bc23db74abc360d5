package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// setPassword is what authority does on a password change: one outbox
// entry per bound directory, in the same write as the new hash.
func setPassword(hash string) store.UserUpdate {
	return func(u *store.User, bindings []store.Binding) (store.Write, error) {
		u.Password = &store.Password{Hash: hash, ChangedAt: time.Now().UTC()}
		var w store.Write
		for _, b := range bindings {
			w.Outbox = append(w.Outbox, store.OutboxEntry{Directory: b.Directory, UserID: u.ID, Kind: store.OutboxPassword, Sealed: "sealed:" + hash})
		}
		w.Audit = &store.AuditEvent{Actor: "test", Action: "user.password", TargetKind: "user", TargetID: u.ID}
		return w, nil
	}
}

func testPasswordOutbox(t *testing.T, b Backend) {
	s := b.Open(t)
	u := mustCreate(t, s, newUser(uniq("pw")))
	dirA, dirB := uniq("ad"), uniq("m365")
	for _, d := range []string{dirA, dirB} {
		if _, err := s.PutBinding(ctx(t), &store.Binding{UserID: u.ID, Directory: d}, store.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutBinding(ctx(t), &store.Binding{UserID: "no-such-user", Directory: dirA}, store.Write{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("binding a missing user: %v", err)
	}
	if bs, _ := s.Bindings(ctx(t), u.ID); len(bs) != 2 {
		t.Fatalf("Bindings = %v", bs)
	}
	if _, err := s.UpdateUser(ctx(t), u.ID, 0, setPassword("h1")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dirA, dirB} {
		es, err := s.Outbox(ctx(t), d, 10)
		if err != nil || len(es) != 1 || es[0].Sealed != "sealed:h1" || es[0].UserID != u.ID {
			t.Fatalf("outbox of %s: %+v %v", d, es, err)
		}
	}
	// A newer password replaces the undelivered one: one entry, newest value.
	old, _ := s.Outbox(ctx(t), dirA, 10)
	if _, err := s.UpdateUser(ctx(t), u.ID, 0, setPassword("h2")); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Outbox(ctx(t), dirA, 10)
	if len(es) != 1 || es[0].Sealed != "sealed:h2" {
		t.Fatalf("outbox after second change: %+v", es)
	}
	// Acknowledging the old delivery must not drop the newer password.
	if err := s.DeleteOutbox(ctx(t), old[0]); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("deleting a replaced entry: %v", err)
	}
	if err := s.DeleteOutbox(ctx(t), es[0]); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.Outbox(ctx(t), dirA, 10); len(es) != 0 {
		t.Fatalf("delivered entry still queued: %+v", es)
	}
	if err := s.DeleteBinding(ctx(t), u.ID, dirB, store.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBinding(ctx(t), u.ID, dirB, store.Write{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second unbind: %v", err)
	}
}

// testOutboxBindingRace binds a directory while a password change is in
// flight: the change must be retried and reach the new directory too.
func testOutboxBindingRace(t *testing.T, b Backend) {
	s := b.Open(t)
	u := mustCreate(t, s, newUser(uniq("race")))
	dirA, dirB := uniq("a"), uniq("b")
	if _, err := s.PutBinding(ctx(t), &store.Binding{UserID: u.ID, Directory: dirA}, store.Write{}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	inner := setPassword("h")
	_, err := s.UpdateUser(ctx(t), u.ID, 0, func(x *store.User, bs []store.Binding) (store.Write, error) {
		calls++
		if calls == 1 {
			if _, err := s.PutBinding(ctx(t), &store.Binding{UserID: u.ID, Directory: dirB}, store.Write{}); err != nil {
				return store.Write{}, err
			}
		}
		return inner(x, bs)
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 2 {
		t.Fatalf("update ran %d time(s); the new binding went unnoticed", calls)
	}
	if es, _ := s.Outbox(ctx(t), dirB, 10); len(es) != 1 {
		t.Fatalf("directory bound during the change got %d entries, want 1", len(es))
	}
}

func testAudit(t *testing.T, b Backend) {
	s := b.Open(t)
	actor := uniq("auditor")
	u, err := s.CreateUser(ctx(t), newUser(uniq("aud")), store.Write{Audit: &store.AuditEvent{Actor: actor, Action: "user.create", Source: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := s.AppendAudit(ctx(t), &store.AuditEvent{Actor: actor, Action: "login.failure", TargetID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Audit(ctx(t), store.AuditQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Action != "login.failure" || evs[0].Actor != actor {
		t.Fatalf("newest audit events: %+v", evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID >= evs[i-1].ID {
			t.Fatal("audit not newest first")
		}
	}
	rest, err := s.Audit(ctx(t), store.AuditQuery{Before: evs[2].ID, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 3 || rest[2].Action != "user.create" || rest[2].Source != "127.0.0.1" {
		t.Fatalf("next audit page: %+v", rest)
	}
	// Pruning before tomorrow removes today's events; before today, none.
	if n, err := s.PruneAudit(ctx(t), time.Now().UTC()); err != nil || n != 0 {
		t.Fatalf("PruneAudit(today) deleted %d, %v", n, err)
	}
	n, err := s.PruneAudit(ctx(t), time.Now().UTC().AddDate(0, 0, 1))
	if err != nil || n < 6 {
		t.Fatalf("PruneAudit(tomorrow) deleted %d, %v", n, err)
	}
	if evs, _ := s.Audit(ctx(t), store.AuditQuery{Limit: 10}); len(evs) != 0 {
		t.Fatalf("events left after pruning: %+v", evs)
	}
}

// testReplica opens a second store on the same backend, as a second
// replica would, and checks that writes on either side reach the other.
func testReplica(t *testing.T, b Backend) {
	a, c := b.Open(t), b.Open(t)
	u := mustCreate(t, a, newUser(uniq("rep")))
	eventually(t, func() bool {
		got, err := c.LookupUser(ctx(t), store.ByUserName, u.UserName)
		return err == nil && got.Version == u.Version
	})
	if _, err := c.UpdateUser(ctx(t), u.ID, u.Version, func(x *store.User, _ []store.Binding) (store.Write, error) {
		x.Title = "Engineer"
		return store.Write{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		got, err := a.GetUser(ctx(t), u.ID)
		return err == nil && got.Title == "Engineer"
	})
	if err := a.DeleteUser(ctx(t), u.ID, 0, store.Write{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		_, err := c.GetUser(ctx(t), u.ID)
		return errors.Is(err, store.ErrNotFound)
	})
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
