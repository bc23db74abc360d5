package ldapfront_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
)

// BenchmarkSearchByUID measures a search by uid over loopback (client and
// server in this process; make bench-ldap compares with slapd).
func BenchmarkSearchByUID(b *testing.B) {
	f := setup(b)
	var users []*authority.User
	for i := 0; i < 1000; i++ {
		users = append(users, &authority.User{UserName: fmt.Sprintf("user%04d", i), Emails: []authority.Email{{Value: fmt.Sprintf("user%04d@example.com", i)}}})
	}
	f.auth.CreateUsers(context.Background(), users, nil)
	c, err := ldap.DialURL("ldap://" + f.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("cn=gitea,ou=services,"+base, "Gitea-Bind-2026"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r, err := c.Search(ldap.NewSearchRequest("ou=people,"+base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			fmt.Sprintf("(uid=user%04d)", i%1000), []string{"uid", "mail", "uidNumber"}, nil))
		if err != nil || len(r.Entries) != 1 {
			b.Fatalf("search: %v", err)
		}
	}
}
