package directory

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/ldapfront/wire"
)

const base = "dc=example,dc=com"

// fixture is a directory over a real authority on an embedded etcd with
// alice and bob in eng, carol (suspended) in ops, and two service
// accounts: gitea (ldap-reader) and plain (no role).
type fixture struct {
	t                  testing.TB
	a                  *authority.Authority
	d                  *Directory
	alice, bob, carol  *authority.User
	eng, ops           *authority.Group
	gitea, plain       *authority.ServiceAccount
	admin, reader      Requester
	aliceReq, plainReq Requester
}

func setup(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	a, _ := authoritytest.New(t, nil)
	var err error
	ctx = authority.WithActor(ctx, authority.Actor{Name: "test"})
	f := &fixture{t: t, a: a}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.alice, err = a.CreateUser(ctx, &authority.User{
		UserName: "alice", DisplayName: "Alice Liddell",
		Name:   authority.Name{GivenName: "Alice", FamilyName: "Liddell"},
		Emails: []authority.Email{{Value: "alice@example.com", Primary: true}, {Value: "alice.l@example.org"}},
		Title:  "Engineer", PhoneNumbers: []authority.Phone{{Value: "+1 555-0100"}},
		Enterprise: authority.Enterprise{EmployeeNumber: "E1", Department: "R&D"},
		UIDNumber:  10001, GIDNumber: 10001,
	}, "Correct-Horse-Battery-9")
	must(err)
	f.bob, err = a.CreateUser(ctx, &authority.User{
		UserName: "bob", Name: authority.Name{GivenName: "Bob", FamilyName: "Builder"},
		Emails: []authority.Email{{Value: "bob@example.com"}}, UIDNumber: 10002, GIDNumber: 10002,
		HomeDirectory: "/srv/bob", LoginShell: "/bin/zsh",
	}, "")
	must(err)
	f.carol, err = a.CreateUser(ctx, &authority.User{UserName: "carol", Name: authority.Name{GivenName: "Carol"}, UIDNumber: 10003, GIDNumber: 10003}, "")
	must(err)
	f.carol, err = a.Suspend(ctx, f.carol.ID)
	must(err)
	f.eng, err = a.CreateGroup(ctx, &authority.Group{DisplayName: "eng", Description: "Engineering", GIDNumber: 20001})
	must(err)
	f.ops, err = a.CreateGroup(ctx, &authority.Group{DisplayName: "ops", GIDNumber: 20002})
	must(err)
	must(a.AddMembers(ctx, f.eng.ID, []string{f.alice.ID, f.bob.ID}))
	must(a.AddMembers(ctx, f.ops.ID, []string{f.carol.ID}))
	f.gitea, err = a.CreateServiceAccount(ctx, "gitea", "Correct-Horse-Battery-9", "Gitea login", []string{authority.RoleLDAPReader})
	must(err)
	f.plain, err = a.CreateServiceAccount(ctx, "plain", "Correct-Horse-Battery-9", "", nil)
	must(err)
	f.d, err = New(a, " DC=example , dc=com ")
	must(err)
	f.admin = Requester{Kind: KindUser, ID: "admin-id", Roles: []string{authority.RoleAdmin}}
	f.reader = Requester{Kind: KindService, ID: f.gitea.ID, Roles: []string{authority.RoleLDAPReader}}
	f.aliceReq = Requester{Kind: KindUser, ID: f.alice.ID}
	f.plainReq = Requester{Kind: KindService, ID: f.plain.ID}
	return f
}

type query struct {
	base      string
	scope     wire.SearchScope
	filter    string
	attrs     []string
	typesOnly bool
	sizeLimit int64
}

func (f *fixture) search(who Requester, q query, opts Options) ([]wire.SearchResultEntry, Result) {
	f.t.Helper()
	if q.base == "" {
		q.base = base
	}
	if q.filter == "" {
		q.filter = "(objectClass=*)"
	}
	p, err := ldap.CompileFilter(q.filter)
	if err != nil {
		f.t.Fatalf("compile %s: %v", q.filter, err)
	}
	req := &wire.SearchRequest{BaseDN: q.base, Scope: q.scope, Filter: p,
		Attributes: q.attrs, TypesOnly: q.typesOnly, SizeLimit: q.sizeLimit}
	var out []wire.SearchResultEntry
	res, err := f.d.Search(context.Background(), who, req, opts, func(e wire.SearchResultEntry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		f.t.Fatalf("search %+v: %v", q, err)
	}
	return out, res
}

func dns(es []wire.SearchResultEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.DN
	}
	return out
}

func attrMap(e wire.SearchResultEntry) map[string][]string {
	m := map[string][]string{}
	for _, a := range e.Attributes {
		m[a.Type] = a.Values
	}
	return m
}

const (
	aliceDN = "uid=alice,ou=people," + base
	bobDN   = "uid=bob,ou=people," + base
	carolDN = "uid=carol,ou=people," + base
	engDN   = "cn=eng,ou=groups," + base
	opsDN   = "cn=ops,ou=groups," + base
	giteaDN = "cn=gitea,ou=services," + base
	plainDN = "cn=plain,ou=services," + base
)

func TestNewNormalisesBase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"dc=example,dc=com", "dc=example,dc=com"},
		{" DC=Example , DC=com ", "dc=Example,dc=com"},
		{"o=Acme Inc", "o=Acme Inc"},
	} {
		d, err := New(&authority.Authority{}, tc.in)
		if err != nil {
			t.Fatalf("New(%q): %v", tc.in, err)
		}
		if d.BaseDN() != tc.want {
			t.Errorf("New(%q).BaseDN() = %q, want %q", tc.in, d.BaseDN(), tc.want)
		}
	}
	for _, bad := range []string{"", "dc", "dc=example,,", "=x"} {
		if _, err := New(&authority.Authority{}, bad); !errors.Is(err, ErrInvalidDN) {
			t.Errorf("New(%q) = %v, want ErrInvalidDN", bad, err)
		}
	}
}

func TestEntries(t *testing.T) {
	f := setup(t)
	get := func(dn string) map[string][]string {
		t.Helper()
		es, res := f.search(f.admin, query{base: dn, scope: wire.ScopeBaseObject, attrs: []string{"*", "+"}}, Options{})
		if res.Code != wire.ResultSuccess || len(es) != 1 {
			t.Fatalf("base search %s: %v %d entries", dn, res.Code, len(es))
		}
		if es[0].DN != dn {
			t.Errorf("DN = %q, want %q", es[0].DN, dn)
		}
		return attrMap(es[0])
	}
	tests := []struct {
		dn     string
		want   map[string][]string
		absent []string
	}{
		{aliceDN, map[string][]string{
			"objectClass":           userClasses,
			"uid":                   {"alice"},
			"cn":                    {"Alice Liddell"},
			"sn":                    {"Liddell"},
			"givenName":             {"Alice"},
			"displayName":           {"Alice Liddell"},
			"mail":                  {"alice@example.com", "alice.l@example.org"},
			"title":                 {"Engineer"},
			"telephoneNumber":       {"+1 555-0100"},
			"employeeNumber":        {"E1"},
			"departmentNumber":      {"R&D"},
			"uidNumber":             {"10001"},
			"gidNumber":             {"10001"},
			"homeDirectory":         {"/home/alice"},
			"loginShell":            {"/bin/bash"},
			"memberOf":              {engDN},
			"entryUUID":             {f.alice.ID},
			"entryDN":               {aliceDN},
			"structuralObjectClass": {"inetOrgPerson"},
			"createTimestamp":       {formatTime(f.alice.Created)},
			"subschemaSubentry":     {"cn=Subschema"},
			"hasSubordinates":       {"FALSE"},
		}, []string{"userPassword", "pwdAccountLockedTime"}},
		{bobDN, map[string][]string{
			"cn": {"Bob Builder"}, "homeDirectory": {"/srv/bob"}, "loginShell": {"/bin/zsh"}, "memberOf": {engDN},
		}, []string{"displayName", "title"}},
		{carolDN, map[string][]string{
			"cn": {"Carol"}, "sn": {"carol"}, "memberOf": {opsDN}, "pwdAccountLockedTime": {lockedForever},
		}, []string{"mail"}},
		{engDN, map[string][]string{
			"objectClass":  groupClasses,
			"cn":           {"eng"},
			"description":  {"Engineering"},
			"gidNumber":    {"20001"},
			"member":       {aliceDN, bobDN},
			"uniqueMember": {aliceDN, bobDN},
			"memberUid":    {"alice", "bob"},
			"entryUUID":    {f.eng.ID},
		}, nil},
		{giteaDN, map[string][]string{
			"objectClass": serviceClasses, "cn": {"gitea"}, "description": {"Gitea login"}, "entryUUID": {f.gitea.ID},
		}, []string{"userPassword", "member"}},
		{base, map[string][]string{
			"objectClass": baseClasses, "dc": {"example"}, "o": {"example"}, "hasSubordinates": {"TRUE"},
		}, nil},
		{"ou=people," + base, map[string][]string{"objectClass": ouClasses, "ou": {"people"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.dn, func(t *testing.T) {
			got := get(tc.dn)
			for k, v := range tc.want {
				g := slices.Clone(got[k])
				w := slices.Clone(v)
				slices.Sort(g)
				slices.Sort(w)
				if !slices.Equal(g, w) {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present: %q", k, got[k])
				}
			}
			for k, vs := range got {
				for _, v := range vs {
					if strings.Contains(v, "argon2") || strings.Contains(strings.ToLower(k), "password") {
						t.Errorf("secret material in %s: %q", k, v)
					}
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		dn, kind, id string
	}{
		{"uid=alice,ou=people,dc=example,dc=com", KindUser, f.alice.ID},
		{"UID=Alice , OU=People,DC=Example,DC=COM", KindUser, f.alice.ID},
		{"userid=alice,ou=people,dc=example,dc=com", KindUser, f.alice.ID},
		{"0.9.2342.19200300.100.1.1=alice,ou=people,dc=example,dc=com", KindUser, f.alice.ID},
		{"cn=ENG,ou=groups,dc=example,dc=com", KindGroup, f.eng.ID},
		{"commonName=eng,ou=groups,dc=example,dc=com", KindGroup, f.eng.ID},
		{"cn=gitea,ou=services,dc=example,dc=com", KindService, f.gitea.ID},
		{"dc=example,dc=com", KindContainer, ContainerBase},
		{"ou=groups,dc=example,dc=com", KindContainer, ContainerGroups},
	}
	for _, tc := range tests {
		kind, id, err := f.d.Resolve(ctx, tc.dn)
		if err != nil || kind != tc.kind || id != tc.id {
			t.Errorf("Resolve(%q) = %q, %q, %v; want %q, %q", tc.dn, kind, id, err, tc.kind, tc.id)
		}
	}
	missing := []struct{ dn, matched string }{
		{"uid=nobody,ou=people,dc=example,dc=com", "ou=people,dc=example,dc=com"},
		{"cn=alice,ou=people,dc=example,dc=com", "ou=people,dc=example,dc=com"},
		{"uid=alice,ou=groups,dc=example,dc=com", "ou=groups,dc=example,dc=com"},
		{"x=y,uid=alice,ou=people,dc=example,dc=com", "ou=people,dc=example,dc=com"},
		{"ou=other,dc=example,dc=com", "dc=example,dc=com"},
		{"dc=other,dc=com", ""},
		{"", ""},
	}
	for _, tc := range missing {
		_, _, err := f.d.Resolve(ctx, tc.dn)
		var nf *NoSuchObjectError
		if !errors.As(err, &nf) || nf.MatchedDN != tc.matched {
			t.Errorf("Resolve(%q) = %v, want no such object matched %q", tc.dn, err, tc.matched)
		}
	}
	for _, bad := range []string{"uid", "uid=alice,,dc=com", "=alice", "uid=a\\zz"} {
		if _, _, err := f.d.Resolve(ctx, bad); !errors.Is(err, ErrInvalidDN) {
			t.Errorf("Resolve(%q) = %v, want ErrInvalidDN", bad, err)
		}
	}
}
