package filter

import (
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/schema"
)

func TestEqualities(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct {
		filter string
		want   []string // each equality rendered as a filter
	}{
		{`userName eq "x"`, []string{`userName eq "x"`}},
		{`userName eq "x" and title pr`, []string{`userName eq "x"`}},
		{`title pr and (userName eq "x" and externalId eq "e")`, []string{`userName eq "x"`, `externalId eq "e"`}},
		{`userName eq "x" or externalId eq "e"`, nil},
		{`not (userName eq "x")`, nil},
		{`userName ne "x"`, nil},
		{`userName sw "x"`, nil},
		{`emails[value eq "a@example.com"]`, []string{`emails.value eq "a@example.com"`}},
		{`emails.value eq "a@example.com"`, []string{`emails.value eq "a@example.com"`}},
		{`emails eq "a@example.com"`, []string{`emails.value eq "a@example.com"`}},
		{`emails[type eq "work" and value eq "a@example.com"]`, []string{`emails.type eq "work"`, `emails.value eq "a@example.com"`}},
		{`emails[type eq "work" or value eq "a@example.com"]`, nil},
		{`active eq true and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
			[]string{`active eq true`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`}},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.filter, err)
		}
		var got []string
		for _, c := range Equalities(e) {
			got = append(got, c.String())
			// Each equality stands alone as a filter; FuzzParse checks
			// that it holds wherever the whole filter does.
			if _, err := Parse(rt, c.String()); err != nil {
				t.Errorf("equality %q of %q does not parse: %v", c.String(), tc.filter, err)
			}
		}
		if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
			t.Errorf("Equalities(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
}
