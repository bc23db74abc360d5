package ad

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/connectors"
)

// The connector framework driving Samba: Headwater users bound to an AD
// directory, delivered by the real workers.

type adFixture struct {
	a   *authority.Authority
	m   *connectors.Manager
	dir string
	ctx context.Context
}

func startFramework(t testing.TB, name, mode string, allUsers bool) *adFixture {
	t.Helper()
	a, _ := authoritytest.New(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	raw, _ := json.Marshal(settings(nil))
	if _, err := a.PutDirectory(ctx, &authority.Directory{Name: name, Kind: KindName, Mode: mode, Settings: raw, AllUsers: allUsers},
		map[string]string{SecretBindPassword: dc.AdminPassword}); err != nil {
		t.Fatal(err)
	}
	m := connectors.NewManager(connectors.ManagerConfig{Auth: a, Poll: 100 * time.Millisecond, Rescan: 200 * time.Millisecond,
		FeedEvery: 300 * time.Millisecond, MembershipEvery: 200 * time.Millisecond})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &adFixture{a: a, m: m, dir: name, ctx: ctx}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// adUser reads an account by UPN with the administrator's connection.
func adUser(t testing.TB, upn string) *ldap.Entry {
	l, err := dialAdmin()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Search(ldap.NewSearchRequest(dc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(userPrincipalName="+ldap.EscapeFilter(upn)+")", []string{"cn", "givenName", "sn", "displayName", "mail", "userAccountControl", "sAMAccountName"}, nil))
	if err != nil || len(r.Entries) == 0 {
		return nil
	}
	return r.Entries[0]
}

func bindsAs(upn, pw string) bool {
	l, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(tlsConf()))
	if err != nil {
		return false
	}
	defer l.Close()
	return l.Bind(upn, pw) == nil
}

func (f *adFixture) binding(uid string) *authority.Binding {
	b, err := f.a.BindingFor(f.ctx, uid, f.dir)
	if err != nil {
		return nil
	}
	return b
}

// TestFrameworkDeliversToAD: bind, password set then a bind as the user
// with it, a password AD's policy refuses explained in plain words, a
// rename, disable and enable, drift re-asserted (push) and reported
// (report), import with matching.
func TestFrameworkDeliversToAD(t *testing.T) {
	f := startFramework(t, "corp", "push", false)
	u := unique()
	upn := "fw." + u + "@" + domain
	user, err := f.a.CreateUser(f.ctx, &authority.User{UserName: "fw" + u, State: authority.StateActive,
		Name: authority.Name{GivenName: "Fiona", FamilyName: "West"}, Emails: []authority.Email{{Value: upn}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Bind(f.ctx, user.ID, f.dir, ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "account created", func() bool { return adUser(t, upn) != nil })
	waitUntil(t, "binding in sync", func() bool { b := f.binding(user.ID); return b != nil && b.Status == "in_sync" && b.ExternalID != "" })

	// A password set in Headwater binds in AD; the generated one no longer matters.
	if err := f.a.SetPassword(f.ctx, user.ID, "Meadow-Lark-2026-x", false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "user binds with the new password", func() bool { return bindsAs(upn, "Meadow-Lark-2026-x") })

	// AD's own policy: a minimum length Headwater's policy allows under.
	l := admin(t)
	setMin := func(n int) {
		mod := ldap.NewModifyRequest(dc.BaseDN, nil)
		mod.Replace("minPwdLength", []string{fmt.Sprint(n)})
		if err := l.Modify(mod); err != nil {
			t.Fatalf("minPwdLength: %v", err)
		}
	}
	setMin(24)
	defer setMin(7)
	if err := f.a.SetPassword(f.ctx, user.ID, "Shorter-Than-24-Chars", false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "refusal recorded in plain words", func() bool {
		b := f.binding(user.ID)
		return b.Status == "error" && strings.Contains(b.Detail, "policy")
	})
	es, _ := f.a.Outbox(f.ctx, f.dir, 10)
	deadPassword := false
	for _, e := range es {
		if !e.Dead {
			t.Fatalf("an entry of the refused delivery is not a dead letter: %+v", e)
		}
		deadPassword = deadPassword || e.Kind == authority.OutboxPassword
	}
	if !deadPassword {
		t.Fatalf("the refused password is not a dead letter: %+v", es)
	}
	setMin(7)
	if err := f.a.SetPassword(f.ctx, user.ID, "Accepted-Again-2027", false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "newer password delivered", func() bool { return bindsAs(upn, "Accepted-Again-2027") })

	// Rename: the display name becomes the object's cn.
	f.a.UpdateUser(f.ctx, user.ID, 0, func(x *authority.User) error { x.DisplayName = "Fiona West-Lake " + u; return nil })
	waitUntil(t, "renamed", func() bool { e := adUser(t, upn); return e != nil && e.GetAttributeValue("cn") == "Fiona West-Lake "+u })

	// Disable and enable.
	f.a.Suspend(f.ctx, user.ID)
	waitUntil(t, "disabled", func() bool { return adUser(t, upn).GetAttributeValue("userAccountControl") == "514" })
	if bindsAs(upn, "Accepted-Again-2027") {
		t.Fatal("a suspended user still binds in AD")
	}
	f.a.Activate(f.ctx, user.ID)
	waitUntil(t, "enabled", func() bool { return adUser(t, upn).GetAttributeValue("userAccountControl") == "512" })

	// Drift: a change made in AD is put back (push).
	dn := adUser(t, upn).DN
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("givenName", []string{"Changed-In-AD"})
	if err := l.Modify(mod); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "drift re-asserted", func() bool { return adUser(t, upn).GetAttributeValue("givenName") == "Fiona" })

	// Report mode: the same drift is recorded, not reverted.
	d, _ := f.a.GetDirectory(f.ctx, f.dir)
	d.Mode = "report"
	if _, err := f.a.PutDirectory(f.ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the worker restarts with the new mode
	mod = ldap.NewModifyRequest(adUser(t, upn).DN, nil)
	mod.Replace("givenName", []string{"Changed-Again"})
	if err := l.Modify(mod); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "drift reported", func() bool {
		b := f.binding(user.ID)
		return b.Status == "mismatch" && strings.Contains(strings.Join(b.Mismatch, ","), "givenName")
	})
	if adUser(t, upn).GetAttributeValue("givenName") != "Changed-Again" {
		t.Fatal("report mode wrote to AD")
	}
}

// TestFrameworkImportFromAD: accounts already in AD are matched to users
// by mail and bound; the rest are listed.
func TestFrameworkImportFromAD(t *testing.T) {
	f := startFramework(t, "corp-import", "report", false)
	c := newConn(t, nil)
	u := unique()
	known := connectors.Desired{Login: "imp." + u + "@" + domain, Email: "Imp." + u + "@" + domain, GivenName: "Ivo", FamilyName: "Imp", DisplayName: "Ivo Imp " + u, Enabled: true}
	stranger := connectors.Desired{Login: "str." + u + "@" + domain, Email: "str." + u + "@" + domain, GivenName: "Sia", FamilyName: "Str", DisplayName: "Sia Str " + u, Enabled: true}
	for _, d := range []connectors.Desired{known, stranger} {
		if _, err := c.Create(t.Context(), d, "Imported-Pass-2026-x"); err != nil {
			t.Fatal(err)
		}
	}
	user, err := f.a.CreateUser(f.ctx, &authority.User{UserName: "imp" + u, State: authority.StateActive,
		Emails: []authority.Email{{Value: strings.ToLower(known.Email)}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.m.Import(f.ctx, f.dir, connectors.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	matched := false
	for _, m := range res.Matches {
		if m.UserID == user.ID && m.By == "email" {
			matched = true
		}
	}
	listed := false
	for _, a := range res.Unmatched {
		if strings.EqualFold(a.Login, stranger.Login) {
			listed = true
		}
	}
	if !matched || !listed {
		t.Fatalf("import: matched %v, stranger listed %v: %+v", matched, listed, res)
	}
	if b := f.binding(user.ID); b == nil || b.ExternalID == "" {
		t.Fatalf("no binding with the account after import: %+v", b)
	}
}

// BenchmarkADPush (make bench-ad, -benchtime=1x): an all-users directory
// over N users (default 2,000, HEADWATER_AD_BENCH_USERS) until every
// account exists in Samba, then a full reconcile pass over them; it prints
// both times.
func BenchmarkADPush(t *testing.B) {
	n := 2000
	fmt.Sscan(os.Getenv("HEADWATER_AD_BENCH_USERS"), &n)
	a, _ := authoritytest.New(t, nil)
	ctx := context.Background()
	tag := unique()
	var users []*authority.User
	for i := 0; i < n; i++ {
		users = append(users, &authority.User{UserName: fmt.Sprintf("b%s%05d", tag, i), State: authority.StateActive,
			Name: authority.Name{GivenName: "Bench", FamilyName: fmt.Sprintf("User%d", i)}, Emails: []authority.Email{{Value: fmt.Sprintf("b%s%05d@%s", tag, i, domain)}}})
	}
	for i := 0; i < n; i += 500 {
		if _, errs := a.CreateUsers(ctx, users[i:min(i+500, n)], nil); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	raw, _ := json.Marshal(settings(func(s *Settings) { s.UserOU = bulkOU() }))
	start := time.Now()
	if _, err := a.PutDirectory(ctx, &authority.Directory{Name: "bench", Kind: KindName, Mode: "push", Settings: raw, AllUsers: true},
		map[string]string{SecretBindPassword: dc.AdminPassword}); err != nil {
		t.Fatal(err)
	}
	m := connectors.NewManager(connectors.ManagerConfig{Auth: a, Rescan: 200 * time.Millisecond})
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(mctx); close(done) }()
	defer func() { cancel(); <-done }()
	inSync := func() int {
		bs, _ := a.BindingsOf(ctx, "bench")
		k := 0
		for _, b := range bs {
			if b.Status == "in_sync" {
				k++
			}
		}
		return k
	}
	waitBench := func(what string, cond func() bool) {
		deadline := time.Now().Add(30 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not done after 30 minutes", what)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitBench("initial push", func() bool { return inSync() >= n })
	push := time.Since(start)
	bs, _ := a.BindingsOf(ctx, "bench")
	ids := make([]string, 0, len(bs))
	for _, b := range bs {
		ids = append(ids, b.UserID)
	}
	start = time.Now()
	if err := a.EnqueueSync(ctx, "bench", ids); err != nil {
		t.Fatal(err)
	}
	waitBench("full pass", func() bool {
		es, _ := a.Outbox(ctx, "bench", 1000)
		for _, e := range es {
			if !e.Dead {
				return false
			}
		}
		return true
	})
	pass := time.Since(start)
	fmt.Printf("\n# AD (Samba 4.17 on loopback, LDAPS), %d users, one run\n", n)
	fmt.Printf("%-56s %10s %10s\n", "measure", "time", "users/s")
	fmt.Printf("%-56s %10s %10.0f\n", "initial push (bind all, create, set password, enable)", push.Round(10*time.Millisecond), float64(n)/push.Seconds())
	fmt.Printf("%-56s %10s %10.0f\n", "full reconcile pass (read, compare; nothing to change)", pass.Round(10*time.Millisecond), float64(n)/pass.Seconds())
}

// TestFrameworkPasswordChangedInAD: a password reset done in AD after
// Headwater set it is reported on the binding (pwdLastSet newer than the
// push), in push mode too, and the binding waits for the user's newer
// Headwater password at their next sign-in.
func TestFrameworkPasswordChangedInAD(t *testing.T) {
	f := startFramework(t, "corp-pw", "push", false)
	u := unique()
	upn := "pw." + u + "@" + domain
	user, err := f.a.CreateUser(f.ctx, &authority.User{UserName: "pw" + u, State: authority.StateActive,
		Emails: []authority.Email{{Value: upn}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f.a.Bind(f.ctx, user.ID, f.dir, "")
	waitUntil(t, "account", func() bool { b := f.binding(user.ID); return b != nil && b.Status == "in_sync" })
	if err := f.a.SetPassword(f.ctx, user.ID, "Pushed-By-Headwater-26", false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "pushed", func() bool { return bindsAs(upn, "Pushed-By-Headwater-26") })
	time.Sleep(6 * time.Second) // pwdLastSet has second resolution; the check allows 5 s of skew
	// A helpdesk reset in AD.
	l := admin(t)
	mod := ldap.NewModifyRequest(adUser(t, upn).DN, nil)
	mod.Replace("unicodePwd", []string{string(encodePassword("Reset-By-Helpdesk-26"))})
	if err := l.Modify(mod); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "reported", func() bool {
		b := f.binding(user.ID)
		return b.Status == "mismatch" && len(b.Mismatch) == 1 && b.Mismatch[0] == "password"
	})
	// Headwater's password is older than the reset: nothing is forced, and
	// the binding does not wait for one.
	if b := f.binding(user.ID); b.NeedsPassword {
		t.Fatalf("binding waits for a password although AD's is newer: %+v", b)
	}
	if !bindsAs(upn, "Reset-By-Helpdesk-26") {
		t.Fatal("the helpdesk's password was overwritten without a newer Headwater password")
	}
}
