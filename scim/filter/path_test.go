package filter

import (
	"reflect"
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

func TestParsePath(t *testing.T) {
	users, groups := schema.NewUserType(), schema.NewGroupType()
	core := users.Core
	emails := core.Attr("emails")
	members := groups.Core.Attr("members")
	ent := users.Extensions[0].Schema
	tests := []struct {
		rt        *schema.ResourceType
		in        string
		want      *Path
		canonical string
	}{
		// The examples of RFC 7644 §3.5.2 that fit Headwater's schemas.
		{groups, `members[value eq "2819c223-7f76-453a-919d-413861904646"]`, &Path{
			Attr: schema.Path{Schema: groups.Core, Attr: members},
			Filter: &Compare{schema.Path{Schema: groups.Core, Attr: members, Sub: members.Sub("value")},
				OpEq, "2819c223-7f76-453a-919d-413861904646"},
		}, `members[value eq "2819c223-7f76-453a-919d-413861904646"]`},
		{users, `emails[type eq "work"].value`, &Path{
			Attr:    schema.Path{Schema: core, Attr: emails},
			Filter:  &Compare{schema.Path{Schema: core, Attr: emails, Sub: emails.Sub("type")}, OpEq, "work"},
			SubAttr: emails.Sub("value"),
		}, `emails[type eq "work"].value`},
		{users, `name.familyName`, &Path{Attr: schema.Path{Schema: core, Attr: core.Attr("name"), Sub: core.Attr("name").Sub("familyName")}}, `name.familyName`},
		{groups, `members`, &Path{Attr: schema.Path{Schema: groups.Core, Attr: members}}, `members`},
		// Case-insensitive names; extension attributes by URN.
		{users, `NAME.FAMILYNAME`, &Path{Attr: schema.Path{Schema: core, Attr: core.Attr("name"), Sub: core.Attr("name").Sub("familyName")}}, `name.familyName`},
		{users, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, &Path{Attr: schema.Path{Schema: ent, Attr: ent.Attr("manager")}},
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`},
		{users, `urn:ietf:params:scim:schemas:core:2.0:User:userName`, &Path{Attr: schema.Path{Schema: core, Attr: core.Attr("userName")}}, `userName`},
		{users, `emails[type eq "work" and primary eq true].display`, nil, `emails[type eq "work" and primary eq true].display`},
		{users, `emails[not (type eq "work")]`, nil, `emails[not (type eq "work")]`},
	}
	for _, tc := range tests {
		got, err := ParsePath(tc.rt, tc.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePath(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.canonical {
			t.Errorf("ParsePath(%q).String() = %q, want %q", tc.in, s, tc.canonical)
		}
		if again, err := ParsePath(tc.rt, got.String()); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %q: %+v, %v", tc.in, again, err)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct{ in, detail string }{
		// Headwater has no addresses (RFC 7644 §3.5.2.1's example).
		{`addresses[type eq "work"]`, `unknown attribute "addresses" at offset 0: no attribute "addresses" in urn:ietf:params:scim:schemas:core:2.0:User`},
		{``, `the path is empty at offset 0`},
		{`"userName"`, `expected an attribute name, found the string "userName" at offset 0`},
		{`userName eq "x"`, `expected the end of the path, found "eq" at offset 9`},
		{`emails[type eq "work"] eq "x"`, `expected a sub-attribute (as in ".value") or the end of the path, found "eq" at offset 23`},
		{`emails[type eq "work"].nope`, `unknown attribute "nope" at offset 23: emails has no sub-attribute "nope"`},
		{`emails[type eq "work"].value.x`, `"value.x" is not a sub-attribute name at offset 23`},
		{`emails[type eq "work"].value eq "x"`, `expected the end of the path, found "eq" at offset 29`},
		{`emails[type eq]`, `expected a value (a string in double quotes, a number, true or false) after "eq", found "]" at offset 14`},
		{`emails[type eq "work"`, `"emails"[ is never closed at offset 6`},
		{`emails[type[value eq "x"]]`, `value filters cannot nest`},
		{`emails.value[type eq "work"]`, `emails.value is not a multi-valued complex attribute`},
		{`name[givenName eq "x"]`, `name is not a multi-valued complex attribute`},
		{`emails[type eq "work"]]`, `expected a sub-attribute (as in ".value") or the end of the path, found "]" at offset 22`},
		{`schemas`, `unknown attribute "schemas"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, `unknown attribute "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`},
		{`emails[` + strings.Repeat("(", MaxDepth) + `type pr` + strings.Repeat(")", MaxDepth) + `]`, `the path nests more than 32 levels deep (MaxDepth)`},
		{`userName` + strings.Repeat(" ", MaxLength), `the path is 4104 bytes long; the limit is 4096 bytes`},
	}
	for _, tc := range tests {
		_, err := ParsePath(rt, tc.in)
		wantErr(t, err, scimerr.InvalidPath, tc.detail)
	}
}

func TestMatchValue(t *testing.T) {
	rt := schema.NewUserType()
	p, err := ParsePath(rt, `emails[type eq "WORK" and not (primary eq false)]`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		elem string
		want bool
	}{
		{`{"type": "work", "value": "a@example.com"}`, true},
		{`{"Type": "Work", "primary": true}`, true},
		{`{"type": "work", "primary": false}`, false},
		{`{"type": "home"}`, false},
		{`{}`, false},
	}
	for _, tc := range tests {
		if got := MatchValue(rt, p.Attr, p.Filter, decode(t, tc.elem)); got != tc.want {
			t.Errorf("MatchValue(%s) = %v, want %v", tc.elem, got, tc.want)
		}
	}

	// A hand-built filter may name the sub-attribute by Attr, relative to
	// the element, rather than by Sub.
	emails := rt.Core.Attr("emails")
	rel := &Compare{Path: schema.Path{Schema: rt.Core, Attr: emails.Sub("type")}, Op: OpEq, Value: "work"}
	if !MatchValue(rt, p.Attr, rel, map[string]any{"type": "work"}) {
		t.Error("MatchValue with a relative path did not match")
	}
}
