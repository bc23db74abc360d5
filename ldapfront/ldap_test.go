package ldapfront_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/ldapfront"
)

const base = "dc=example,dc=com"

type fixture struct {
	addr string
	auth *authority.Authority
	st   *store.Etcd
}

func setup(t testing.TB) *fixture {
	t.Helper()
	a, st := authoritytest.New(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := ldapfront.New(a, ldapfront.Config{BaseDN: base, Logger: slog.New(slog.DiscardHandler), PreBindMaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln, false); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, u := range []struct {
		name, pw string
		roles    []string
	}{
		{"alice", "Alice-Pass-2026", nil},
		{"admin", "Admin-Pass-2026", []string{"admin"}},
	} {
		if _, err := a.CreateUser(context.Background(), &authority.User{UserName: u.name, Roles: u.roles,
			Emails: []authority.Email{{Value: u.name + "@example.com"}}}, u.pw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.CreateServiceAccount(context.Background(), "gitea", "Gitea-Bind-2026", "", []string{"ldap-reader"}); err != nil {
		t.Fatal(err)
	}
	return &fixture{addr: ln.Addr().String(), auth: a, st: st}
}

func (f *fixture) dial(t *testing.T) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + f.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(10 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

func code(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

func TestBindNames(t *testing.T) {
	f := setup(t)
	c := f.dial(t)
	for _, name := range []string{"uid=alice,ou=people," + base, "UID=Alice, OU=People, DC=Example, DC=Com", "alice", "alice@example.com", `CORP\alice`} {
		if err := c.Bind(name, "Alice-Pass-2026"); err != nil {
			t.Fatalf("bind as %q: %v", name, err)
		}
		who, err := c.WhoAmI(nil)
		if err != nil || who.AuthzID != "dn:uid=alice,ou=people,"+base {
			t.Fatalf("WhoAmI after bind as %q: %+v %v", name, who, err)
		}
	}
	// Wrong password, unknown user, unknown DN shape: the same 49.
	for _, b := range [][2]string{{"alice", "wrong-password"}, {"nobody", "Alice-Pass-2026"}, {"cn=x,ou=elsewhere," + base, "whatever"}} {
		if err := c.Bind(b[0], b[1]); code(err) != ldap.LDAPResultInvalidCredentials {
			t.Fatalf("bind %q: %v, want 49", b[0], err)
		}
	}
	// A failed bind leaves the connection anonymous.
	if who, err := c.WhoAmI(nil); err != nil || who.AuthzID != "" {
		t.Fatalf("WhoAmI after a failed bind: %+v %v", who, err)
	}
	// Service account, then re-bind as a user, then back (what apps do).
	if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind("uid=alice,ou=people,"+base, "Alice-Pass-2026"); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
		t.Fatal(err)
	}
	// Suspended users cannot bind, with the same answer.
	u, _ := f.auth.LookupUser(context.Background(), authority.ByUserName, "alice")
	if _, err := f.auth.Suspend(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind("alice", "Alice-Pass-2026"); code(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("suspended bind (cached credentials must not help): %v", err)
	}
	// Name without password: refused, not an anonymous success.
	if err := c.UnauthenticatedBind("uid=alice,ou=people," + base); code(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("unauthenticated bind: %v", err)
	}
	// SASL is not supported.
	if err := c.ExternalBind(); code(err) != ldap.LDAPResultAuthMethodNotSupported {
		t.Fatalf("SASL bind: %v", err)
	}
}

func TestPasswordModify(t *testing.T) {
	f := setup(t)
	c := f.dial(t)
	if err := c.Bind("alice", "Alice-Pass-2026"); err != nil {
		t.Fatal(err)
	}
	u, _ := f.auth.LookupUser(context.Background(), authority.ByUserName, "alice")
	if _, err := f.auth.Bind(context.Background(), u.ID, "corp-ad", "push"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "wrong", "New-Alice-Pass-1")); code(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong old password: %v", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "Alice-Pass-2026", "short")); code(err) != ldap.LDAPResultConstraintViolation {
		t.Fatalf("weak new password: %v", err)
	} else if !strings.Contains(err.Error(), "at least") {
		t.Fatalf("policy violation not explained: %v", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "Alice-Pass-2026", "New-Alice-Pass-1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind("alice", "New-Alice-Pass-1"); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if err := c.Bind("alice", "Alice-Pass-2026"); code(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("the old password still binds: %v", err)
	}
	if es, _ := f.st.Outbox(context.Background(), "corp-ad", 10); countKind(es, store.OutboxPassword) != 1 {
		t.Fatalf("the change did not reach the bound directory's outbox: %+v", es)
	}
	// Another user's password needs an admin; an admin reset generates one.
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("uid=admin,ou=people,"+base, "", "X-Pass-2026-abc")); code(err) != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("user resetting admin: %v", err)
	}
	if err := c.Bind("admin", "Admin-Pass-2026"); err != nil {
		t.Fatal(err)
	}
	res, err := c.PasswordModify(ldap.NewPasswordModifyRequest("uid=alice,ou=people,"+base, "", ""))
	if err != nil || len(res.GeneratedPassword) < 16 {
		t.Fatalf("admin reset with a generated password: %+v %v", res, err)
	}
	if err := c.Bind("alice", res.GeneratedPassword); err != nil {
		t.Fatalf("bind with the generated password: %v", err)
	}
}

func TestOperationsAnswered(t *testing.T) {
	f := setup(t)
	c := f.dial(t)
	// RootDSE is readable anonymously.
	r, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"namingContexts", "supportedExtension", "supportedControl"}, nil))
	if err != nil || len(r.Entries) != 1 || r.Entries[0].GetAttributeValue("namingContexts") != base {
		t.Fatalf("RootDSE: %+v %v", r, err)
	}
	if !contains(r.Entries[0].GetAttributeValues("supportedExtension"), "1.3.6.1.4.1.4203.1.11.1") {
		t.Fatal("RootDSE does not advertise Password Modify")
	}
	if err := c.Bind("admin", "Admin-Pass-2026"); err != nil {
		t.Fatal(err)
	}
	// Writes are refused with a pointer to SCIM, never by closing.
	err = c.Add(ldap.NewAddRequest("uid=bob,ou=people,"+base, nil))
	if code(err) != ldap.LDAPResultUnwillingToPerform || !strings.Contains(err.Error(), "SCIM") {
		t.Fatalf("add: %v", err)
	}
	if err := c.Del(ldap.NewDelRequest("uid=alice,ou=people,"+base, nil)); code(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("delete: %v", err)
	}
	if err := c.ModifyDN(ldap.NewModifyDNRequest("uid=alice,ou=people,"+base, "uid=al", true, "")); code(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("modrdn: %v", err)
	}
	// An unknown critical control fails the request with 12.
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil,
		[]ldap.Control{ldap.NewControlString("1.2.3.4.5.6", true, "")})
	if _, err := c.Search(req); code(err) != ldap.LDAPResultUnavailableCriticalExtension {
		t.Fatalf("unknown critical control: %v", err)
	}
	// The connection still works after all of that.
	if _, err := c.WhoAmI(nil); err != nil {
		t.Fatal(err)
	}
}

// TestHostileInput sends garbage, an oversized PDU and a flood of tiny
// elements on separate connections; the server answers or closes each and
// keeps serving others.
func TestHostileInput(t *testing.T) {
	f := setup(t)
	for _, payload := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, // claims 2 GiB
		append([]byte{0x30, 0x83, 0x01, 0x00, 0x00}, make([]byte, 64*1024)...),
	} {
		nc, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write(payload)
		buf := make([]byte, 4096)
		nc.Read(buf) // a Notice of Disconnection or nothing; then close
		nc.Close()
	}
	c := f.dial(t)
	if err := c.Bind("alice", "Alice-Pass-2026"); err != nil {
		t.Fatalf("the server stopped serving after hostile input: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSearchAndCompare(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	alice, _ := f.auth.LookupUser(ctx, authority.ByUserName, "alice")
	g, err := f.auth.CreateGroup(ctx, &authority.Group{DisplayName: "eng"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.auth.AddMembers(ctx, g.ID, []string{alice.ID}); err != nil {
		t.Fatal(err)
	}
	c := f.dial(t)
	// Anonymous: nothing but the RootDSE.
	r, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=alice)", nil, nil))
	if err != nil || len(r.Entries) != 0 {
		t.Fatalf("anonymous search: %+v %v", r, err)
	}
	// A service account with ldap-reader finds the user the way Gitea asks.
	if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
		t.Fatal(err)
	}
	r, err = c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=posixAccount)(uid=alice))", []string{"uid", "mail", "uidNumber", "memberOf", "userPassword"}, nil))
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("search for alice: %+v %v", r, err)
	}
	e := r.Entries[0]
	if e.DN != "uid=alice,ou=people,"+base || e.GetAttributeValue("mail") != "alice@example.com" ||
		e.GetAttributeValue("memberOf") != "cn=eng,ou=groups,"+base || e.GetAttributeValue("userPassword") != "" {
		t.Fatalf("alice's entry: %s %v", e.DN, e.Attributes)
	}
	// Group membership the way Apache and Grafana ask.
	r, err = c.Search(ldap.NewSearchRequest("ou=groups,"+base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=posixGroup)(memberUid=alice))", []string{"cn"}, nil))
	if err != nil || len(r.Entries) != 1 || r.Entries[0].GetAttributeValue("cn") != "eng" {
		t.Fatalf("group search: %+v %v", r, err)
	}
	ok, err := c.Compare("cn=eng,ou=groups,"+base, "member", "uid=alice,ou=people,"+base)
	if err != nil || !ok {
		t.Fatalf("compare member: %v %v", ok, err)
	}
	ok, err = c.Compare("uid=alice,ou=people,"+base, "mail", "bob@example.com")
	if err != nil || ok {
		t.Fatalf("compare a wrong mail: %v %v", ok, err)
	}
	// A plain user reads their own entry, not other people's.
	if err := c.Bind("alice", "Alice-Pass-2026"); err != nil {
		t.Fatal(err)
	}
	r, err = c.Search(ldap.NewSearchRequest("ou=people,"+base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=person)", []string{"uid"}, nil))
	if err != nil || len(r.Entries) != 1 || r.Entries[0].GetAttributeValue("uid") != "alice" {
		t.Fatalf("a user's view of ou=people: %+v %v", r, err)
	}
}

// TestPagedSearch pages through 2,500 users with the Simple Paged Results
// control: every user exactly once.
func TestPagedSearch(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var users []*authority.User
	for i := 0; i < 2500; i++ {
		users = append(users, &authority.User{UserName: fmt.Sprintf("user%04d", i)})
	}
	if _, errs := f.auth.CreateUsers(ctx, users, nil); errs != nil {
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	c := f.dial(t)
	if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
		t.Fatal(err)
	}
	r, err := c.SearchWithPaging(ldap.NewSearchRequest("ou=people,"+base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil), 300)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range r.Entries {
		if seen[e.DN] {
			t.Fatalf("%s returned twice", e.DN)
		}
		seen[e.DN] = true
	}
	if len(seen) != 2502 { // 2,500 plus alice and admin
		t.Fatalf("paged search returned %d users, want 2502", len(seen))
	}
}

func TestSubschema(t *testing.T) {
	f := setup(t)
	c := f.dial(t)
	r, err := c.Search(ldap.NewSearchRequest("cn=Subschema", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=subschema)", []string{"attributeTypes", "objectClasses"}, nil))
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("subschema: %+v %v", r, err)
	}
	e := r.Entries[0]
	if len(e.GetAttributeValues("attributeTypes")) < 20 || len(e.GetAttributeValues("objectClasses")) < 10 {
		t.Fatalf("subschema content: %v", e.Attributes)
	}
	// Every definition is a balanced parenthesised description.
	for _, d := range append(e.GetAttributeValues("attributeTypes"), e.GetAttributeValues("objectClasses")...) {
		if !strings.HasPrefix(d, "( ") || !strings.HasSuffix(d, " )") || strings.Count(d, "(") != strings.Count(d, ")") || strings.Count(d, "'")%2 != 0 {
			t.Fatalf("malformed definition: %s", d)
		}
	}
	// Without asking, the operational attributes stay out.
	r, _ = c.Search(ldap.NewSearchRequest("cn=Subschema", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	if len(r.Entries[0].GetAttributeValues("attributeTypes")) != 0 {
		t.Fatal("attributeTypes returned without being asked for")
	}
}

// countKind counts outbox entries of one kind (bindings and user changes
// queue "sync" entries beside passwords).
func countKind(es []store.OutboxEntry, kind string) int {
	n := 0
	for _, e := range es {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
