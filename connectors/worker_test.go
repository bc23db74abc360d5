package connectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/connectors"
)

// target is an in-memory directory for the framework's own tests (the
// real kinds are tested against their targets: connectors/m365 against
// the Graph emulator). It records calls so tests can count deliveries.
type target struct {
	mu       sync.Mutex
	accounts map[string]*connectors.Account
	password map[string]string
	creates  map[string]int // by login
	failNext []error        // returned by the next mutating calls, in order
	next     int
	changed  []string // ids changed behind the framework's back
	feedOff  bool
}

var (
	targetsMu sync.Mutex
	targets   = map[string]*target{}
)

func targetFor(name string) *target {
	targetsMu.Lock()
	defer targetsMu.Unlock()
	t := targets[name]
	if t == nil {
		t = &target{accounts: map[string]*connectors.Account{}, password: map[string]string{}, creates: map[string]int{}}
		targets[name] = t
	}
	return t
}

func init() {
	connectors.Register(connectors.Kind{Name: "testmem", Description: "in-memory target for tests",
		New: func(ctx context.Context, cfg connectors.Config) (connectors.Connector, error) {
			return &conn{t: targetFor(cfg.Directory)}, nil
		},
		Validate: func(json.RawMessage, map[string]string) error { return nil },
	})
}

type conn struct{ t *target }

func (c *conn) fail() error {
	if len(c.t.failNext) > 0 {
		err := c.t.failNext[0]
		c.t.failNext = c.t.failNext[1:]
		return err
	}
	return nil
}

func (c *conn) Test(context.Context) error { return nil }
func (c *conn) Check(_ context.Context, d connectors.Desired) error {
	if strings.HasSuffix(d.Login, "@elsewhere.example") {
		return connectors.Rejected("domain elsewhere.example is not ours", nil)
	}
	return nil
}
func (c *conn) Get(_ context.Context, id string) (*connectors.Account, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	a, ok := c.t.accounts[id]
	if !ok {
		return nil, connectors.ErrNotFound
	}
	x := *a
	return &x, nil
}
func (c *conn) Find(_ context.Context, login, email string) (*connectors.Account, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	for _, a := range c.t.accounts {
		if strings.EqualFold(a.Login, login) || (email != "" && strings.EqualFold(a.Email, email)) {
			x := *a
			return &x, nil
		}
	}
	return nil, connectors.ErrNotFound
}
func (c *conn) Create(_ context.Context, d connectors.Desired, pw string) (*connectors.Account, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if err := c.fail(); err != nil {
		return nil, err
	}
	c.t.next++
	a := &connectors.Account{ID: fmt.Sprintf("acct-%d", c.t.next), Login: d.Login, Email: d.Email, GivenName: d.GivenName,
		FamilyName: d.FamilyName, DisplayName: d.DisplayName, Enabled: d.Enabled}
	c.t.accounts[a.ID] = a
	c.t.password[a.ID] = pw
	c.t.creates[strings.ToLower(d.Login)]++
	x := *a
	return &x, nil
}
func (c *conn) Update(_ context.Context, id string, p connectors.Patch) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if err := c.fail(); err != nil {
		return err
	}
	a, ok := c.t.accounts[id]
	if !ok {
		return connectors.ErrNotFound
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.Login, p.Login)
	set(&a.Email, p.Email)
	set(&a.GivenName, p.GivenName)
	set(&a.FamilyName, p.FamilyName)
	set(&a.DisplayName, p.DisplayName)
	if p.Enabled != nil {
		a.Enabled = *p.Enabled
	}
	return nil
}
func (c *conn) SetPassword(_ context.Context, id, pw string) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if err := c.fail(); err != nil {
		return err
	}
	if _, ok := c.t.accounts[id]; !ok {
		return connectors.ErrNotFound
	}
	c.t.password[id] = pw
	return nil
}
func (c *conn) Delete(_ context.Context, id string) error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	delete(c.t.accounts, id)
	return nil
}
func (c *conn) List(_ context.Context, fn func(connectors.Account) error) error {
	c.t.mu.Lock()
	var all []connectors.Account
	for _, a := range c.t.accounts {
		all = append(all, *a)
	}
	c.t.mu.Unlock()
	for _, a := range all {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}
func (c *conn) Changes(_ context.Context, cursor string) ([]connectors.Account, string, error) {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	if c.t.feedOff {
		return nil, "", connectors.ErrNoChangeFeed
	}
	var out []connectors.Account
	for _, id := range c.t.changed {
		if a, ok := c.t.accounts[id]; ok {
			out = append(out, *a)
		}
	}
	c.t.changed = nil
	return out, "cursor", nil
}
func (c *conn) Close() error { return nil }

// account returns the target's account for a login.
func (t *target) account(login string) (connectors.Account, string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, a := range t.accounts {
		if strings.EqualFold(a.Login, login) {
			return *a, t.password[id], true
		}
	}
	return connectors.Account{}, "", false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type fx struct {
	a   *authority.Authority
	m   *connectors.Manager
	dir string
	tg  *target
	ctx context.Context
}

func setup(t *testing.T, mode string, groups ...string) *fx {
	a, _ := authoritytest.New(t, nil)
	return start(t, a, mode, groups...)
}

var dirSeq struct {
	sync.Mutex
	n int
}

func start(t *testing.T, a *authority.Authority, mode string, groups ...string) *fx {
	t.Helper()
	dirSeq.Lock()
	dirSeq.n++
	name := fmt.Sprintf("mem%d", dirSeq.n)
	dirSeq.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := a.PutDirectory(ctx, &authority.Directory{Name: name, Kind: "testmem", Mode: mode, Groups: groups}, map[string]string{"token": "x"}); err != nil {
		t.Fatal(err)
	}
	m := connectors.NewManager(connectors.ManagerConfig{Auth: a, Poll: 50 * time.Millisecond, Rescan: 100 * time.Millisecond,
		MembershipEvery: 100 * time.Millisecond, FeedEvery: 100 * time.Millisecond, MaxAttempts: 3})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fx{a: a, m: m, dir: name, tg: targetFor(name), ctx: ctx}
}

func (f *fx) user(t *testing.T, name string) *authority.User {
	t.Helper()
	u, err := f.a.CreateUser(f.ctx, &authority.User{UserName: name, State: authority.StateActive, Name: authority.Name{GivenName: "G", FamilyName: "F"},
		Emails: []authority.Email{{Value: name + "@example.com"}}}, "First-Password-2026")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fx) binding(t *testing.T, uid string) *authority.Binding {
	b, err := f.a.BindingFor(f.ctx, uid, f.dir)
	if err != nil {
		return nil
	}
	return b
}

func TestPushLifecycle(t *testing.T) {
	f := setup(t, "push")
	u := f.user(t, "ann")
	if _, err := f.a.Bind(f.ctx, u.ID, f.dir, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "account created", func() bool { _, _, ok := f.tg.account("ann@example.com"); return ok })
	acct, pw, _ := f.tg.account("ann@example.com")
	if pw == "" || pw == "First-Password-2026" || !acct.Enabled || acct.DisplayName != "G F" {
		t.Fatalf("created %+v with password %q", acct, pw)
	}
	eventually(t, "binding in sync", func() bool { b := f.binding(t, u.ID); return b.Status == "in_sync" && b.ExternalID == acct.ID })
	if !f.binding(t, u.ID).NeedsPassword {
		t.Fatal("the binding no longer waits for a password, yet none was delivered")
	}
	// Sign-in: password takeover delivers the real password.
	if _, err := f.a.Authenticate(f.ctx, "ann", "First-Password-2026", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "password delivered", func() bool { _, pw, _ := f.tg.account("ann@example.com"); return pw == "First-Password-2026" })
	eventually(t, "binding no longer waits", func() bool { return !f.binding(t, u.ID).NeedsPassword })
	// A password change, then a name change.
	if err := f.a.SetPassword(f.ctx, u.ID, "Second-Password-2027", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new password", func() bool { _, pw, _ := f.tg.account("ann@example.com"); return pw == "Second-Password-2027" })
	f.a.UpdateUser(f.ctx, u.ID, 0, func(x *authority.User) error { x.Name.FamilyName = "Smith"; return nil })
	eventually(t, "name change", func() bool { a, _, _ := f.tg.account("ann@example.com"); return a.FamilyName == "Smith" })
	// Suspend disables; re-enabling in the target is reverted.
	f.a.Suspend(f.ctx, u.ID)
	eventually(t, "disabled", func() bool { a, _, _ := f.tg.account("ann@example.com"); return !a.Enabled })
	f.tg.mu.Lock()
	f.tg.accounts[acct.ID].Enabled = true
	f.tg.changed = append(f.tg.changed, acct.ID)
	f.tg.mu.Unlock()
	eventually(t, "re-enable reverted", func() bool { a, _, _ := f.tg.account("ann@example.com"); return !a.Enabled })
	// Deleting the user disables (never deletes) and ends the binding.
	f.a.Activate(f.ctx, u.ID)
	eventually(t, "re-enabled", func() bool { a, _, _ := f.tg.account("ann@example.com"); return a.Enabled })
	if err := f.a.DeleteUser(f.ctx, u.ID, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "disabled after delete", func() bool { a, _, ok := f.tg.account("ann@example.com"); return ok && !a.Enabled })
	eventually(t, "binding removed", func() bool { return f.binding(t, u.ID) == nil })
	if n := f.tg.creates["ann@example.com"]; n != 1 {
		t.Fatalf("created %d times", n)
	}
	eventually(t, "outbox empty", func() bool { es, _ := f.a.Outbox(f.ctx, f.dir, 100); return len(es) == 0 })
}

func TestReportMode(t *testing.T) {
	f := setup(t, "report")
	u := f.user(t, "rob")
	f.tg.mu.Lock()
	f.tg.accounts["x1"] = &connectors.Account{ID: "x1", Login: "rob@example.com", Email: "rob@example.com", GivenName: "G", FamilyName: "Other", DisplayName: "G F", Enabled: true}
	f.tg.mu.Unlock()
	f.a.Bind(f.ctx, u.ID, f.dir, "")
	eventually(t, "mismatch recorded", func() bool {
		b := f.binding(t, u.ID)
		return b.Status == "mismatch" && len(b.Mismatch) == 1 && b.Mismatch[0] == "familyName" && b.ExternalID == "x1"
	})
	if a, _, _ := f.tg.account("rob@example.com"); a.FamilyName != "Other" {
		t.Fatal("report mode wrote to the target")
	}
	f.a.SetPassword(f.ctx, u.ID, "Never-Delivered-2026", false)
	eventually(t, "password entry settled", func() bool { es, _ := f.a.Outbox(f.ctx, f.dir, 100); return len(es) == 0 })
	if _, pw, _ := f.tg.account("rob@example.com"); pw != "" {
		t.Fatal("report mode delivered a password")
	}
}

func TestFailuresRetryAndDeadLetters(t *testing.T) {
	f := setup(t, "push")
	// Transient failure, then success.
	f.tg.mu.Lock()
	f.tg.failNext = []error{connectors.Transient("connection reset", nil)}
	f.tg.mu.Unlock()
	u := f.user(t, "tim")
	f.a.Bind(f.ctx, u.ID, f.dir, "")
	eventually(t, "created after a retry", func() bool { _, _, ok := f.tg.account("tim@example.com"); return ok })
	// A rejection goes straight to the dead letters, with the target's words.
	f.tg.mu.Lock()
	f.tg.failNext = []error{connectors.Rejected("The password does not meet complexity requirements", nil)}
	f.tg.mu.Unlock()
	f.a.SetPassword(f.ctx, u.ID, "Rejected-Password-2026", false)
	eventually(t, "dead letter", func() bool {
		es, _ := f.a.Outbox(f.ctx, f.dir, 100)
		return len(es) == 1 && es[0].Dead && es[0].LastError == "The password does not meet complexity requirements"
	})
	if b := f.binding(t, u.ID); b.Status != "error" || !strings.Contains(b.Detail, "complexity") {
		t.Fatalf("binding status %q %q", b.Status, b.Detail)
	}
	// A newer password replaces the dead entry and is delivered.
	f.a.SetPassword(f.ctx, u.ID, "Accepted-Password-2027", false)
	eventually(t, "newer password delivered", func() bool { _, pw, _ := f.tg.account("tim@example.com"); return pw == "Accepted-Password-2027" })
	// A user in a domain the target does not own is refused by Check.
	v, _ := f.a.CreateUser(f.ctx, &authority.User{UserName: "vic", State: authority.StateActive, Emails: []authority.Email{{Value: "vic@elsewhere.example"}}}, "")
	f.a.Bind(f.ctx, v.ID, f.dir, "")
	eventually(t, "refused", func() bool {
		b := f.binding(t, v.ID)
		return b.Status == "error" && strings.Contains(b.Detail, "not ours")
	})
}

func TestGroupBindings(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	g, err := a.CreateGroup(context.Background(), &authority.Group{DisplayName: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, a, "push", g.ID)
	u := f.user(t, "gia")
	a.AddMembers(f.ctx, g.ID, []string{u.ID})
	eventually(t, "member bound and provisioned", func() bool { acct, _, ok := f.tg.account("gia@example.com"); return ok && acct.Enabled })
	if b := f.binding(t, u.ID); b.Source != "group" {
		t.Fatalf("binding source %q", b.Source)
	}
	a.RemoveMembers(f.ctx, g.ID, []string{u.ID})
	eventually(t, "disabled after leaving", func() bool { acct, _, _ := f.tg.account("gia@example.com"); return !acct.Enabled })
	eventually(t, "unbound", func() bool { return f.binding(t, u.ID) == nil })
}

func TestImport(t *testing.T) {
	f := setup(t, "report")
	f.user(t, "ida")
	f.tg.mu.Lock()
	f.tg.accounts["i1"] = &connectors.Account{ID: "i1", Login: "IDA@example.com", Email: "Ida@Example.com", Enabled: true}
	f.tg.accounts["i2"] = &connectors.Account{ID: "i2", Login: "stranger@example.com", GivenName: "Str", Enabled: true}
	f.tg.mu.Unlock()
	res, err := f.m.Import(f.ctx, f.dir, connectors.ImportOptions{DryRun: true})
	if err != nil || res.Matched != 1 || len(res.Unmatched) != 1 || res.Matches[0].By != "email" {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if bs, _ := f.a.BindingsOf(f.ctx, f.dir); len(bs) != 0 {
		t.Fatal("a dry run bound users")
	}
	res, err = f.m.Import(f.ctx, f.dir, connectors.ImportOptions{CreateStaged: true})
	if err != nil || res.Matched != 1 || res.Created != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
	s, err := f.a.LookupUser(f.ctx, authority.ByUserName, "stranger")
	if err != nil || s.State != authority.StateStaged {
		t.Fatalf("staged user: %+v %v", s, err)
	}
	if bs, _ := f.a.BindingsOf(f.ctx, f.dir); len(bs) != 2 {
		t.Fatalf("bindings after import: %d", len(bs))
	}
	again, _ := f.m.Import(f.ctx, f.dir, connectors.ImportOptions{})
	if again.AlreadyBound != 2 || again.Matched != 0 {
		t.Fatalf("second import: %+v", again)
	}
}

// TestTwoReplicasOneDelivery: two managers on one store; each change is
// delivered once.
func TestTwoReplicasOneDelivery(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	f := start(t, a, "push")
	m2 := connectors.NewManager(connectors.ManagerConfig{Auth: a, Poll: 50 * time.Millisecond, Rescan: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m2.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var ids []string
	for i := 0; i < 30; i++ {
		u := f.user(t, fmt.Sprintf("rep%02d", i))
		f.a.Bind(f.ctx, u.ID, f.dir, "")
		ids = append(ids, u.ID)
	}
	eventually(t, "all provisioned", func() bool {
		f.tg.mu.Lock()
		defer f.tg.mu.Unlock()
		return len(f.tg.accounts) == 30
	})
	for login, n := range f.tg.creates {
		if n != 1 {
			t.Fatalf("%s created %d times", login, n)
		}
	}
	for _, id := range ids {
		if b := f.binding(t, id); b == nil || b.ExternalID == "" {
			t.Fatalf("binding of %s has no account id: %+v", id, b)
		}
	}
}

// TestAllUsersGetsPasswordAtCreation: a directory that binds every user
// receives the password given at creation with the new account, and users
// from before the directory existed are bound by the worker's pass.
func TestAllUsersGetsPasswordAtCreation(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	old, err := a.CreateUser(context.Background(), &authority.User{UserName: "olda", State: authority.StateActive,
		Emails: []authority.Email{{Value: "olda@example.com"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, a, "push")
	d, _ := a.GetDirectory(f.ctx, f.dir)
	d.AllUsers = true
	if _, err := a.PutDirectory(f.ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // the authority caches the directory list for 2 s
	u, err := a.CreateUser(f.ctx, &authority.User{UserName: "nina", State: authority.StateActive,
		Emails: []authority.Email{{Value: "nina@example.com"}}}, "Nina-At-Creation-2026")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "created with the password", func() bool { _, pw, ok := f.tg.account("nina@example.com"); return ok && pw == "Nina-At-Creation-2026" })
	eventually(t, "binding done", func() bool { b := f.binding(t, u.ID); return b != nil && b.Status == "in_sync" && !b.NeedsPassword })
	eventually(t, "earlier user bound too", func() bool { _, _, ok := f.tg.account("olda@example.com"); return ok })
	if b := f.binding(t, old.ID); b.Source != "all" || !b.NeedsPassword {
		t.Fatalf("earlier user's binding: %+v", b)
	}
}
