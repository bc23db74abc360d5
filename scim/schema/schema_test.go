package schema

import "testing"

func TestResolve(t *testing.T) {
	rt := NewUserType()
	cases := []struct {
		path, schema, attr, sub string
		err                     bool
	}{
		{path: "userName", schema: UserURN, attr: "userName"},
		{path: "USERNAME", schema: UserURN, attr: "userName"},
		{path: "name.givenName", schema: UserURN, attr: "name", sub: "givenName"},
		{path: "emails.value", schema: UserURN, attr: "emails", sub: "value"},
		{path: UserURN + ":name.familyName", schema: UserURN, attr: "name", sub: "familyName"},
		{path: EnterpriseURN + ":manager.value", schema: EnterpriseURN, attr: "manager", sub: "value"},
		{path: "urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber", schema: PosixUserURN, attr: "uidNumber"},
		{path: "addresses", err: true},
		{path: "name.givenName.x", err: true},
		{path: "userName.x", err: true},
		{path: "urn:unknown:schema:attr", err: true},
		{path: "name.nickname", err: true},
		{path: "employeeNumber", err: true}, // extension attributes need their URN
	}
	for _, c := range cases {
		p, err := rt.Resolve(c.path)
		if c.err {
			if err == nil {
				t.Errorf("Resolve(%q) = %v, want an error", c.path, p)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%q): %v", c.path, err)
			continue
		}
		sub := ""
		if p.Sub != nil {
			sub = p.Sub.Name
		}
		if p.Schema.ID != c.schema || p.Attr.Name != c.attr || sub != c.sub {
			t.Errorf("Resolve(%q) = %s %s %s", c.path, p.Schema.ID, p.Attr.Name, sub)
		}
	}
}

func TestDefinitionsAreConsistent(t *testing.T) {
	for _, rt := range []*ResourceType{NewUserType(), NewGroupType()} {
		for _, s := range rt.Schemas() {
			seen := map[string]bool{}
			for _, a := range s.Attributes {
				if seen[a.Name] {
					t.Errorf("%s: %s defined twice", s.ID, a.Name)
				}
				seen[a.Name] = true
				if (a.Type == Complex) != (len(a.SubAttributes) > 0) {
					t.Errorf("%s: %s is %s with %d sub-attributes", s.ID, a.Name, a.Type, len(a.SubAttributes))
				}
				if a.Mutability == "" || a.Returned == "" {
					t.Errorf("%s: %s lacks mutability or returned", s.ID, a.Name)
				}
			}
		}
	}
}
