package directory

import (
	"context"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/ldapfront/wire"
)

// FuzzSearchFilter drives arbitrary filter strings through
// ldap.CompileFilter and a subtree search: evaluation must never panic and
// must end with a result code, not an error.
func FuzzSearchFilter(f *testing.F) {
	for _, s := range []string{
		"(objectClass=*)",
		"(&(objectClass=posixAccount)(uid=alice))",
		"(|(uid=alice)(mail=alice@example.com))",
		"(&(|(objectclass=inetOrgPerson))(|(uid=a)(|(mailPrimaryAddress=a)(mail=a))))",
		"(&(uid=alice)(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))",
		"(memberOf:1.2.840.113556.1.4.1941:=cn=eng,ou=groups,dc=example,dc=com)",
		"(userAccountControl:1.2.840.113556.1.4.803:=2)",
		"(:dn:2.5.13.5:=people)",
		"(cn=*a*b*c*)",
		"(uidNumber>=10002)",
		"(createTimestamp<=20991231235959Z)",
		"(!(!(!(x=y))))",
		"(&)",
		"(|)",
	} {
		f.Add(s)
	}
	fx := setup(f)
	f.Fuzz(func(t *testing.T, filter string) {
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			return
		}
		for _, who := range []Requester{fx.admin, fx.aliceReq} {
			req := &wire.SearchRequest{BaseDN: base, Scope: wire.ScopeWholeSubtree, Filter: p, Attributes: []string{"*", "+"}}
			res, err := fx.d.Search(context.Background(), who, req, Options{}, func(wire.SearchResultEntry) error { return nil })
			if err != nil {
				t.Fatalf("Search(%q): %v", filter, err)
			}
			if res.Code != wire.ResultSuccess && res.Code != wire.ResultProtocolError {
				t.Fatalf("Search(%q): %v %s", filter, res.Code, res.Diagnostic)
			}
		}
	})
}

// FuzzResolveDN feeds arbitrary DNs to Resolve and Compare: no panics, only
// the typed errors, and normalisation is idempotent.
func FuzzResolveDN(f *testing.F) {
	for _, s := range []string{
		"uid=alice,ou=people,dc=example,dc=com",
		"UID = Alice , OU=People,DC=Example,DC=COM",
		"cn=eng+gidNumber=20001,ou=groups,dc=example,dc=com",
		"cn=a\\,b,ou=groups,dc=example,dc=com",
		"cn=#0403616263,ou=services,dc=example,dc=com",
		"cn=\\20lead\\20,dc=example,dc=com",
		"dc=example,dc=com",
		"",
		"=",
		"uid=\\zz",
	} {
		f.Add(s)
	}
	fx := setup(f)
	f.Fuzz(func(t *testing.T, dn string) {
		ctx := context.Background()
		kind, id, err := fx.d.Resolve(ctx, dn)
		switch {
		case err == nil:
			if kind == "" || (kind != KindContainer && id == "") {
				t.Fatalf("Resolve(%q) = %q, %q", dn, kind, id)
			}
		case isTyped(err):
		default:
			t.Fatalf("Resolve(%q): untyped error %v", dn, err)
		}
		if _, err := fx.d.Compare(ctx, fx.admin, dn, "cn", "x"); err != nil && !isTyped(err) {
			t.Fatalf("Compare(%q): %v", dn, err)
		}
		n, err := normalizeDN(dn)
		if err != nil {
			return
		}
		n2, err := normalizeDN(n)
		if err != nil || n2 != n {
			t.Fatalf("normalizeDN(%q) = %q, but normalizeDN of that = %q, %v", dn, n, n2, err)
		}
	})
}

func isTyped(err error) bool {
	_, nf := err.(*NoSuchObjectError)
	_, inv := err.(*InvalidDNError)
	return nf || inv
}
