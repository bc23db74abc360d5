package directory

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/ldapfront/wire"
)

// TestFilters runs the searches real applications send (from their
// documentation) and the filter features issue 4 lists, as a reader
// service account would.
func TestFilters(t *testing.T) {
	f := setup(t)
	sub := func(filter string) query { return query{scope: wire.ScopeWholeSubtree, filter: filter} }
	tests := []struct {
		name string
		q    query
		want []string
	}{
		{"gitea user", sub("(&(objectClass=posixAccount)(uid=alice))"), []string{aliceDN}},
		{"grafana user by uid", sub("(|(uid=alice)(mail=alice))"), []string{aliceDN}},
		{"grafana user by mail", sub("(|(uid=bob@example.com)(mail=bob@example.com))"), []string{bobDN}},
		{"grafana second mail", sub("(|(uid=ALICE.L@example.org)(mail=ALICE.L@example.org))"), []string{aliceDN}},
		{"grafana groups", sub("(&(objectClass=posixGroup)(memberUid=alice))"), []string{engDN}},
		{"nextcloud unknown attr in OR", sub("(&(|(objectclass=inetOrgPerson))(|(uid=alice)(|(mailPrimaryAddress=alice)(mail=alice))))"), []string{aliceDN}},
		{"nextcloud by mail", sub("(&(|(objectclass=inetOrgPerson))(|(uid=bob@example.com)(|(mailPrimaryAddress=bob@example.com)(mail=bob@example.com))))"), []string{bobDN}},
		{"jenkins user", sub("(uid=alice)"), []string{aliceDN}},
		{"jenkins groups", sub("(member=" + aliceDN + ")"), []string{engDN}},
		{"jenkins groups odd DN spacing", sub("(member=UID=Alice, OU=People, DC=Example, DC=Com)"), []string{engDN}},
		{"sssd", sub("(&(uid=alice)(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))"), []string{aliceDN}},
		{"sssd enumerate", sub("(&(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))"), []string{aliceDN, bobDN, carolDN}},
		{"gitlab", sub("(&(uid=alice)(objectClass=person))"), []string{aliceDN}},
		{"organizationalPerson superclass", sub("(objectClass=organizationalPerson)"), []string{aliceDN, bobDN, carolDN}},
		{"apache uniqueMember", sub("(&(objectClass=groupOfUniqueNames)(uniqueMember=" + aliceDN + "))"), []string{engDN}},
		{"ad in chain", sub("(memberOf:1.2.840.113556.1.4.1941:=cn=eng,ou=groups,dc=example,dc=com)"), []string{aliceDN, bobDN}},
		{"memberOf equality", sub("(&(objectClass=person)(memberOf=CN=Ops,OU=Groups,DC=example,DC=com))"), []string{carolDN}},
		{"ad bit and on unknown attr", sub("(userAccountControl:1.2.840.113556.1.4.803:=2)"), nil},
		{"ad not disabled", sub("(&(uid=alice)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"), nil},
		{"bit and on uidNumber", sub("(uidNumber:1.2.840.113556.1.4.803:=3)"), []string{carolDN}},
		{"bit or on uidNumber", sub("(&(objectClass=person)(uidNumber:1.2.840.113556.1.4.804:=2))"), []string{bobDN, carolDN}},
		{"substring initial", sub("(cn=ali*)"), []string{aliceDN}},
		{"substring any final", sub("(mail=*@example.*)"), []string{aliceDN, bobDN}},
		{"substring any", sub("(cn=*li*de*)"), []string{aliceDN}},
		{"substring final", sub("(uid=*ob)"), []string{bobDN}},
		{"ge uidNumber", sub("(uidNumber>=10002)"), []string{bobDN, carolDN}},
		{"le uidNumber", sub("(uidNumber<=10002)"), []string{aliceDN, bobDN}},
		{"le gidNumber numeric not lexical", sub("(gidNumber<=9999)"), nil},
		{"range", sub("(&(uidNumber>=10002)(uidNumber<=10002))"), []string{bobDN}},
		{"not", sub("(&(objectClass=posixAccount)(!(uid=alice)))"), []string{bobDN, carolDN}},
		{"not undefined stays undefined", sub("(&(objectClass=posixAccount)(!(unknownAttr=x)))"), nil},
		{"approx", sub("(cn~=ALICE liddell)"), []string{aliceDN}},
		{"case-insensitive attribute and alias", sub("(&(OBJECTCLASS=POSIXACCOUNT)(userid=BOB))"), []string{bobDN}},
		{"surname alias", sub("(surname=liddell)"), []string{aliceDN}},
		{"commonName alias finds group", sub("(commonName=eng)"), []string{engDN}},
		{"cn scan finds user", sub("(cn=Bob Builder)"), []string{bobDN}},
		{"entryUUID", sub("(entryUUID=" + f.bob.ID + ")"), []string{bobDN}},
		{"gidNumber group", sub("(&(objectClass=posixGroup)(gidNumber=20002))"), []string{opsDN}},
		{"uidNumber index", sub("(uidNumber=10003)"), []string{carolDN}},
		{"telephone ignores spaces and hyphens", sub("(telephoneNumber=+15550100)"), []string{aliceDN}},
		{"service accounts", sub("(objectClass=applicationProcess)"), []string{giteaDN, plainDN}},
		{"locked users", sub("(pwdAccountLockedTime=*)"), []string{carolDN}},
		{"extensible caseExact", sub("(uid:caseExactMatch:=alice)"), []string{aliceDN}},
		{"extensible caseExact mismatch", sub("(uid:caseExactMatch:=Alice)"), nil},
		{"extensible dn attributes", sub("(&(objectClass=person)(ou:dn:=people))"), []string{aliceDN, bobDN, carolDN}},
		{"extensible no type", sub("(:caseIgnoreMatch:=engineering)"), []string{engDN}},
		{"unknown matching rule", sub("(uid:1.2.3.4:=alice)"), nil},
		{"invalid integer", sub("(uidNumber=abc)"), nil},
		{"createTimestamp", sub("(&(objectClass=posixGroup)(createTimestamp>=20000101000000Z))"), []string{engDN, opsDN}},
		{"containers", sub("(objectClass=organizationalUnit)"), []string{"ou=people," + base, "ou=groups," + base, "ou=services," + base}},
		{"present everything", sub("(objectClass=*)"), []string{base, "ou=people," + base, "ou=groups," + base, "ou=services," + base,
			aliceDN, bobDN, carolDN, engDN, opsDN, giteaDN, plainDN}},
		{"scope base user", query{base: aliceDN, scope: wire.ScopeBaseObject}, []string{aliceDN}},
		{"scope base filter mismatch", query{base: aliceDN, scope: wire.ScopeBaseObject, filter: "(uid=bob)"}, nil},
		{"scope one people", query{base: "ou=people," + base, scope: wire.ScopeSingleLevel}, []string{aliceDN, bobDN, carolDN}},
		{"scope one base", query{base: base, scope: wire.ScopeSingleLevel}, []string{"ou=people," + base, "ou=groups," + base, "ou=services," + base}},
		{"scope one leaf", query{base: aliceDN, scope: wire.ScopeSingleLevel}, nil},
		{"scope sub groups", query{base: "ou=groups," + base, scope: wire.ScopeWholeSubtree}, []string{"ou=groups," + base, engDN, opsDN}},
		{"scope sub people uid", query{base: "ou=people," + base, scope: wire.ScopeWholeSubtree, filter: "(uid=alice)"}, []string{aliceDN}},
		{"scope base people uid none", query{base: "ou=groups," + base, scope: wire.ScopeWholeSubtree, filter: "(uid=alice)"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, res := f.search(f.reader, tc.q, Options{})
			if res.Code != wire.ResultSuccess {
				t.Fatalf("code %v (%s)", res.Code, res.Diagnostic)
			}
			if got := dns(es); !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAttributeSelection(t *testing.T) {
	f := setup(t)
	types := func(e wire.SearchResultEntry) []string {
		var out []string
		for _, a := range e.Attributes {
			out = append(out, a.Type)
			if e.Attributes[0].Values == nil && len(a.Values) != 0 {
				t.Errorf("typesOnly entry has values for %s", a.Type)
			}
		}
		return out
	}
	q := func(attrs ...string) query { return query{base: aliceDN, scope: wire.ScopeBaseObject, attrs: attrs} }
	tests := []struct {
		name      string
		q         query
		has, lack []string
	}{
		{"default is user attributes", q(), []string{"uid", "mail", "memberOf", "objectClass"}, []string{"entryUUID", "createTimestamp"}},
		{"star", q("*"), []string{"uid", "cn"}, []string{"entryUUID", "entryDN"}},
		{"plus", q("+"), []string{"entryUUID", "createTimestamp", "modifyTimestamp", "structuralObjectClass", "entryDN", "subschemaSubentry"}, []string{"uid"}},
		{"named, case-insensitive and aliased", q("UID", "surname", "entryuuid", "nosuch"), []string{"uid", "sn", "entryUUID"}, []string{"cn", "mail"}},
		{"star and named operational", q("*", "entryUUID"), []string{"uid", "entryUUID"}, []string{"createTimestamp"}},
		{"no attributes", q("1.1"), nil, []string{"uid", "objectClass"}},
		{"1.1 with others is ignored", q("1.1", "uid"), []string{"uid"}, []string{"cn"}},
		{"userPassword never", q("userPassword", "*", "+"), []string{"uid"}, []string{"userPassword"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, _ := f.search(f.admin, tc.q, Options{})
			if len(es) != 1 {
				t.Fatalf("%d entries", len(es))
			}
			got := types(es[0])
			for _, h := range tc.has {
				if !slices.Contains(got, h) {
					t.Errorf("missing %s in %q", h, got)
				}
			}
			for _, l := range tc.lack {
				if slices.Contains(got, l) {
					t.Errorf("unexpected %s in %q", l, got)
				}
			}
		})
	}
	t.Run("typesOnly", func(t *testing.T) {
		es, _ := f.search(f.admin, query{base: aliceDN, attrs: []string{"uid", "mail"}, typesOnly: true}, Options{})
		if len(es) != 1 || len(es[0].Attributes) != 2 {
			t.Fatalf("entries %+v", es)
		}
		for _, a := range es[0].Attributes {
			if len(a.Values) != 0 {
				t.Errorf("%s has values %q", a.Type, a.Values)
			}
		}
	})
}

func TestLimitsAndPaging(t *testing.T) {
	f := setup(t)
	people := query{base: "ou=people," + base, scope: wire.ScopeSingleLevel}
	t.Run("sizeLimit exceeded", func(t *testing.T) {
		q := people
		q.sizeLimit = 2
		es, res := f.search(f.admin, q, Options{})
		if res.Code != wire.ResultSizeLimitExceeded || len(es) != 2 {
			t.Errorf("code %v, %d entries; want sizeLimitExceeded after 2", res.Code, len(es))
		}
	})
	t.Run("sizeLimit exactly met", func(t *testing.T) {
		q := people
		q.sizeLimit = 3
		es, res := f.search(f.admin, q, Options{})
		if res.Code != wire.ResultSuccess || len(es) != 3 {
			t.Errorf("code %v, %d entries; want success with 3", res.Code, len(es))
		}
	})
	t.Run("pages", func(t *testing.T) {
		var all []string
		opts := Options{PageSize: 2}
		for i := 0; ; i++ {
			es, res := f.search(f.admin, query{scope: wire.ScopeWholeSubtree}, opts)
			if res.Code != wire.ResultSuccess || len(es) > 2 {
				t.Fatalf("page %d: %v, %d entries", i, res.Code, len(es))
			}
			all = append(all, dns(es)...)
			if res.Next == "" {
				break
			}
			opts.Cursor = res.Next
		}
		want, _ := f.search(f.admin, query{scope: wire.ScopeWholeSubtree}, Options{})
		if !slices.Equal(all, dns(want)) {
			t.Errorf("paged %q\nwant %q", all, dns(want))
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		_, res := f.search(f.admin, people, Options{Cursor: "garbage"})
		if res.Code != wire.ResultUnwillingToPerform {
			t.Errorf("code %v", res.Code)
		}
	})
	t.Run("time limit", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		p, _ := ldap.CompileFilter("(objectClass=*)")
		res, err := f.d.Search(ctx, f.admin, &wire.SearchRequest{BaseDN: base, Scope: wire.ScopeWholeSubtree, Filter: p}, Options{},
			func(wire.SearchResultEntry) error { return nil })
		if err != nil || res.Code != wire.ResultTimeLimitExceeded {
			t.Errorf("code %v, err %v; want timeLimitExceeded", res.Code, err)
		}
	})
	t.Run("emit failure", func(t *testing.T) {
		p, _ := ldap.CompileFilter("(objectClass=*)")
		boom := errors.New("boom")
		_, err := f.d.Search(context.Background(), f.admin, &wire.SearchRequest{BaseDN: base, Scope: wire.ScopeWholeSubtree, Filter: p}, Options{},
			func(wire.SearchResultEntry) error { return boom })
		if !errors.Is(err, boom) {
			t.Errorf("err %v", err)
		}
	})
}

func TestSearchErrors(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name    string
		base    string
		filter  *ber.Packet
		scope   wire.SearchScope
		code    wire.ResultCode
		matched string
	}{
		{"missing user", "uid=nobody,ou=people," + base, nil, wire.ScopeBaseObject, wire.ResultNoSuchObject, "ou=people," + base},
		{"outside base", "dc=other", nil, wire.ScopeWholeSubtree, wire.ResultNoSuchObject, ""},
		{"bad DN", "uid=,,", nil, wire.ScopeBaseObject, wire.ResultInvalidDNSyntax, ""},
		{"bad scope", base, nil, 7, wire.ResultProtocolError, ""},
		{"bad filter", base, ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "x", ""), wire.ScopeBaseObject, wire.ResultProtocolError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.filter
			if p == nil {
				p, _ = ldap.CompileFilter("(objectClass=*)")
			}
			res, err := f.d.Search(context.Background(), f.admin, &wire.SearchRequest{BaseDN: tc.base, Scope: tc.scope, Filter: p}, Options{},
				func(wire.SearchResultEntry) error { t.Error("emitted"); return nil })
			if err != nil || res.Code != tc.code || res.MatchedDN != tc.matched {
				t.Errorf("got %v matched %q err %v; want %v matched %q", res.Code, res.MatchedDN, err, tc.code, tc.matched)
			}
		})
	}
}

func TestAccess(t *testing.T) {
	f := setup(t)
	all := []string{base, "ou=people," + base, "ou=groups," + base, "ou=services," + base,
		aliceDN, bobDN, carolDN, engDN, opsDN, giteaDN, plainDN}
	containers := all[:4]
	tests := []struct {
		name string
		who  Requester
		q    query
		want []string
		code wire.ResultCode
	}{
		{"admin reads all", f.admin, query{scope: wire.ScopeWholeSubtree}, all, 0},
		{"ldap-reader reads all", f.reader, query{scope: wire.ScopeWholeSubtree}, all, 0},
		{"user reads self, groups, containers", f.aliceReq, query{scope: wire.ScopeWholeSubtree},
			append(slices.Clone(containers), aliceDN, engDN, opsDN), 0},
		{"user cannot find others by uid", f.aliceReq, query{scope: wire.ScopeWholeSubtree, filter: "(uid=bob)"}, nil, 0},
		{"user finds self by uid", f.aliceReq, query{scope: wire.ScopeWholeSubtree, filter: "(uid=alice)"}, []string{aliceDN}, 0},
		{"user base on other is no such object", f.aliceReq, query{base: bobDN}, nil, wire.ResultNoSuchObject},
		{"user sees group members", f.aliceReq, query{base: engDN, attrs: []string{"member"}}, []string{engDN}, 0},
		{"service without role reads self", f.plainReq, query{scope: wire.ScopeWholeSubtree, filter: "(|(objectClass=person)(objectClass=applicationProcess))"}, []string{plainDN}, 0},
		{"anonymous reads nothing", Requester{Anonymous: true}, query{scope: wire.ScopeWholeSubtree}, nil, 0},
		{"anonymous base on user", Requester{Anonymous: true}, query{base: aliceDN}, nil, 0},
		{"empty requester is anonymous", Requester{}, query{scope: wire.ScopeWholeSubtree}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, res := f.search(tc.who, tc.q, Options{})
			if res.Code != tc.code {
				t.Fatalf("code %v, want %v", res.Code, tc.code)
			}
			if got := dns(es); !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tests := []struct {
		who             Requester
		dn, attr, value string
		code            wire.ResultCode
	}{
		{f.admin, aliceDN, "uid", "ALICE", wire.ResultCompareTrue},
		{f.admin, aliceDN, "uid", "bob", wire.ResultCompareFalse},
		{f.admin, aliceDN, "mail", "alice.l@EXAMPLE.org", wire.ResultCompareTrue},
		{f.admin, aliceDN, "uidNumber", "010001", wire.ResultCompareTrue},
		{f.admin, aliceDN, "uidNumber", "x", wire.ResultInvalidAttributeSyntax},
		{f.admin, aliceDN, "objectClass", "person", wire.ResultCompareTrue},
		{f.admin, aliceDN, "memberOf", "CN=eng, OU=groups, DC=example, DC=com", wire.ResultCompareTrue},
		{f.admin, engDN, "member", bobDN, wire.ResultCompareTrue},
		{f.admin, engDN, "uniqueMember", carolDN, wire.ResultCompareFalse},
		{f.reader, engDN, "memberUid", "alice", wire.ResultCompareTrue},
		{f.admin, bobDN, "title", "x", wire.ResultNoSuchAttribute},
		{f.admin, bobDN, "userPassword", "x", wire.ResultUndefinedAttributeType},
		{f.admin, "uid=zed,ou=people," + base, "uid", "zed", wire.ResultNoSuchObject},
		{f.admin, "uid", "uid", "zed", wire.ResultInvalidDNSyntax},
		{f.aliceReq, aliceDN, "uid", "alice", wire.ResultCompareTrue},
		{f.aliceReq, engDN, "member", aliceDN, wire.ResultCompareTrue},
		{f.aliceReq, bobDN, "uid", "bob", wire.ResultNoSuchObject},
		{Requester{Anonymous: true}, aliceDN, "uid", "alice", wire.ResultNoSuchObject},
	}
	for _, tc := range tests {
		code, err := f.d.Compare(ctx, tc.who, tc.dn, tc.attr, tc.value)
		if code != tc.code {
			t.Errorf("Compare(%s, %s=%s) = %v (%v), want %v", tc.dn, tc.attr, tc.value, code, err, tc.code)
		}
		if code == wire.ResultNoSuchObject && !errors.Is(err, ErrNoSuchObject) {
			t.Errorf("Compare(%s): err %v, want ErrNoSuchObject", tc.dn, err)
		}
	}
}
