package ldapfront_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
)

// TestApplicationSearches replays the searches real applications send
// (from their LDAP documentation), over the wire, after the service
// account / user / service account bind sequence they use to log a user
// in.
func TestApplicationSearches(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	alice, _ := f.auth.LookupUser(ctx, authority.ByUserName, "alice")
	g, err := f.auth.CreateGroup(ctx, &authority.Group{DisplayName: "grafana-admins"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.auth.AddMembers(ctx, g.ID, []string{alice.ID}); err != nil {
		t.Fatal(err)
	}
	people, groups := "ou=people,"+base, "ou=groups,"+base
	aliceDN := "uid=alice,ou=people," + base
	cases := []struct {
		app, base, filter string
		attrs             []string
		want              int
	}{
		{"Gitea", base, "(&(objectClass=posixAccount)(uid=alice))", []string{"uid", "givenName", "sn", "mail"}, 1},
		{"Grafana user", base, "(|(uid=alice)(mail=alice))", []string{"dn", "givenName", "sn", "mail", "memberOf"}, 1},
		{"Grafana groups", groups, "(&(objectClass=posixGroup)(memberUid=alice))", []string{"cn"}, 1},
		// Jenkins' "uid={0}" and "(| (member={0}) ...)"; JNDI adds the
		// parentheses and drops the spaces that go-ldap's compiler refuses.
		{"Jenkins user", people, "(uid=alice)", nil, 1},
		{"Jenkins groups", groups, "(|(member=" + aliceDN + ")(uniqueMember=" + aliceDN + ")(memberUid=alice))", []string{"cn"}, 1},
		{"Nextcloud", base, "(&(|(objectclass=inetOrgPerson))(|(uid=alice)(|(mailPrimaryAddress=alice)(mail=alice))))", []string{"dn", "uid", "mail"}, 1},
		{"Nextcloud groups", base, "(&(|(objectclass=groupOfNames))(member=" + aliceDN + "))", []string{"cn"}, 1},
		{"GitLab", base, "(&(uid=alice)(objectClass=person))", []string{"dn", "uid", "cn", "mail", "email", "userPrincipalName"}, 1},
		{"SSSD", people, "(&(uid=alice)(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))", []string{"uid", "uidNumber", "gidNumber", "homeDirectory", "loginShell"}, 1},
		{"SSSD initgroups", groups, "(&(memberUid=alice)(objectClass=posixGroup)(cn=*)(&(gidNumber=*)(!(gidNumber=0))))", []string{"cn", "gidNumber"}, 1},
		{"Apache mod_authnz_ldap", people, "(&(objectClass=*)(uid=alice))", []string{"uid"}, 1},
		{"Apache Require ldap-group", groups, "(&(objectClass=groupOfUniqueNames)(uniqueMember=" + aliceDN + "))", []string{"cn"}, 1},
		{"AD-style nested groups", base, "(memberOf:1.2.840.113556.1.4.1941:=cn=grafana-admins,ou=groups," + base + ")", []string{"uid"}, 1},
		// userAccountControl does not exist here: Undefined, and NOT
		// Undefined stays Undefined (RFC 4511 §4.5.1.7), as in OpenLDAP.
		{"AD-style disabled bit (unknown attribute)", base, "(&(uid=alice)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))", []string{"uid"}, 0},
		{"no such user", base, "(&(objectClass=posixAccount)(uid=mallory))", []string{"uid"}, 0},
	}
	c := f.dial(t)
	for _, tc := range cases {
		t.Run(tc.app, func(t *testing.T) {
			if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
				t.Fatal(err)
			}
			r, err := c.Search(ldap.NewSearchRequest(tc.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, tc.filter, tc.attrs, nil))
			if err != nil {
				t.Fatalf("%s search: %v", tc.app, err)
			}
			if len(r.Entries) != tc.want {
				t.Fatalf("%s search returned %d entries, want %d", tc.app, len(r.Entries), tc.want)
			}
			if tc.want == 0 {
				return
			}
			// The application then binds as the user it found, and back.
			if r.Entries[0].DN == aliceDN {
				if err := c.Bind(aliceDN, "Alice-Pass-2026"); err != nil {
					t.Fatalf("%s user bind: %v", tc.app, err)
				}
			}
		})
	}
}

// TestElementFlood sends a PDU of tens of thousands of tiny elements (and
// more garbage): the server refuses it without its memory growing by more
// than a few MiB, and a normal search works afterwards.
func TestElementFlood(t *testing.T) {
	f := setup(t)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// SEQUENCE of 30,000 empty OCTET STRINGs, within the 64 KiB pre-bind cap.
	body := make([]byte, 0, 60000)
	for i := 0; i < 30000; i++ {
		body = append(body, 0x04, 0x00)
	}
	pdu := append([]byte{0x30, 0x83, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	for i := 0; i < 20; i++ {
		nc, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write(pdu)
		buf := make([]byte, 1024)
		nc.Read(buf)
		nc.Close()
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Fatalf("heap grew by %d MiB after element floods", grown>>20)
	}
	c := f.dial(t)
	if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=alice)", []string{"uid"}, nil))
	if err != nil || len(r.Entries) != 1 {
		t.Fatalf("search after the flood: %+v %v", r, err)
	}
}
