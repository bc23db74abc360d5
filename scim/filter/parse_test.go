package filter

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// The filters of RFC 7644 §3.4.2.2, with their canonical rendering. The
// last one names "ims", which Headwater's User schema does not have.
var rfcFilters = []struct {
	in, canonical string
}{
	{`userName eq "bjensen"`, `userName eq "bjensen"`},
	{`name.familyName co "O'Malley"`, `name.familyName co "O'Malley"`},
	{`userName sw "J"`, `userName sw "J"`},
	{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, `userName sw "J"`},
	{`title pr`, `title pr`},
	{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
	{`meta.lastModified ge "2011-05-13T04:42:34Z"`, `meta.lastModified ge "2011-05-13T04:42:34Z"`},
	{`meta.lastModified lt "2011-05-13T04:42:34Z"`, `meta.lastModified lt "2011-05-13T04:42:34Z"`},
	{`meta.lastModified le "2011-05-13T04:42:34Z"`, `meta.lastModified le "2011-05-13T04:42:34Z"`},
	{`title pr and userType eq "Employee"`, `title pr and userType eq "Employee"`},
	{`title pr or userType eq "Intern"`, `title pr or userType eq "Intern"`},
	{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`},
	{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		`userType eq "Employee" and (emails.value co "example.com" or emails.value co "example.org")`},
	{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		`userType ne "Employee" and not (emails.value co "example.com" or emails.value co "example.org")`},
	{`userType eq "Employee" and (emails.type eq "work")`, `userType eq "Employee" and emails.type eq "work"`},
	{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
		`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`},
}

func TestParseRFCExamples(t *testing.T) {
	rt := schema.NewUserType()
	for _, tc := range rfcFilters {
		e, err := Parse(rt, tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.canonical)
		}
		again, err := Parse(rt, e.String())
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("round trip of %q: %v, %v", tc.in, again, err)
		}
	}
	// The RFC's last example names ims, which Headwater does not have.
	_, err := Parse(rt, `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`)
	wantErr(t, err, scimerr.InvalidFilter, `unknown attribute "ims" at offset 54`)
}

func TestParseAST(t *testing.T) {
	rt := schema.NewUserType()
	core, ent := rt.Core, rt.Extensions[0].Schema
	emails := core.Attr("emails")
	p := func(s *schema.Schema, a string, sub ...string) schema.Path {
		path := schema.Path{Schema: s, Attr: s.Attr(a)}
		if len(sub) > 0 {
			path.Sub = path.Attr.Sub(sub[0])
		}
		return path
	}
	userName := p(core, "userName")
	tests := []struct {
		in   string
		want Expr
	}{
		{`userName eq "bjensen"`, &Compare{userName, OpEq, "bjensen"}},
		{`USERNAME EQ "bjensen"`, &Compare{userName, OpEq, "bjensen"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`,
			&Compare{p(ent, "employeeNumber"), OpEq, "701984"}},
		{`URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:MANAGER.VALUE eq "26118915"`,
			&Compare{p(ent, "manager", "value"), OpEq, "26118915"}},
		// A complex attribute compares its value sub-attribute.
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915"`,
			&Compare{p(ent, "manager", "value"), OpEq, "26118915"}},
		{`active eq TRUE`, &Compare{p(core, "active"), OpEq, true}},
		{`active ne false`, &Compare{p(core, "active"), OpNe, false}},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber ge 1000`,
			&Compare{p(rt.Extensions[1].Schema, "uidNumber"), OpGe, json.Number("1000")}},
		{`userName eq "a\"b\\c\u00e9\ud83d\ude00\/"`, &Compare{userName, OpEq, "a\"b\\cé😀/"}},
		{`userName eq "\ud800"`, &Compare{userName, OpEq, "\uFFFD"}},
		{`title pr`, &Present{p(core, "title")}},
		{`emails pr`, &Present{p(core, "emails")}},
		{"not(title pr)", &Not{&Present{p(core, "title")}}},
		{"\ttitle  pr\r\n", &Present{p(core, "title")}},
		{`emails[not (type eq "work")]`, &ValuePath{p(core, "emails"), &Not{&Compare{p(core, "emails", "type"), OpEq, "work"}}}},
		{`emails[type eq "work"]`, &ValuePath{p(core, "emails"), &Compare{schema.Path{Schema: core, Attr: emails, Sub: emails.Sub("type")}, OpEq, "work"}}},
		{`groups[$ref co "Groups"]`, &ValuePath{p(core, "groups"), &Compare{p(core, "groups", "$ref"), OpCo, "Groups"}}},
	}
	for _, tc := range tests {
		got, err := Parse(rt, tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseSchemas(t *testing.T) {
	rt := schema.NewUserType()
	for _, in := range []string{`schemas eq "x"`, `SCHEMAS eq "x"`, `urn:ietf:params:scim:schemas:core:2.0:User:schemas eq "x"`} {
		e, err := Parse(rt, in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		c := e.(*Compare)
		if !IsSchemas(c.Path) || !c.Path.IsCore(rt) || !c.Path.Attr.MultiValued {
			t.Errorf("Parse(%q): path %v is not the schemas attribute", in, c.Path)
		}
	}
	if IsSchemas(schema.Path{Schema: rt.Core, Attr: rt.Core.Attr("userName")}) {
		t.Error("IsSchemas(userName) = true")
	}
	// schemas is a filter convenience, not something a PATCH changes.
	if _, err := ParsePath(rt, "schemas"); err == nil {
		t.Error(`ParsePath("schemas") succeeded`)
	}
}

func TestParsePrecedence(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct{ in, want string }{
		// and binds tighter than or, and both associate to the left.
		{`title pr or userType pr and locale pr`, `title pr or userType pr and locale pr`},
		{`title pr and userType pr or locale pr`, `title pr and userType pr or locale pr`},
		{`(title pr or userType pr) and locale pr`, `(title pr or userType pr) and locale pr`},
		{`title pr and (userType pr or locale pr)`, `title pr and (userType pr or locale pr)`},
		{`title pr and (userType pr and locale pr)`, `title pr and (userType pr and locale pr)`},
		{`(title pr and userType pr) and locale pr`, `title pr and userType pr and locale pr`},
		{`title pr or (userType pr or locale pr)`, `title pr or (userType pr or locale pr)`},
		{`((title pr))`, `title pr`},
		{`not (title pr) and locale pr`, `not (title pr) and locale pr`},
		{`title pr AND userType pr Or locale pr`, `title pr and userType pr or locale pr`},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	e, _ := Parse(rt, `title pr or userType pr and locale pr`)
	if or, ok := e.(*Or); !ok || !isAnd(or.Right) {
		t.Errorf("and does not bind tighter than or: %#v", e)
	}
	e, _ = Parse(rt, `title pr and userType pr and locale pr`)
	if and, ok := e.(*And); !ok || !isAnd(and.Left) {
		t.Errorf("and is not left-associative: %#v", e)
	}
}

func TestParseErrors(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct{ in, detail string }{
		{``, `the filter is empty at offset 0`},
		{`   `, `the filter is empty at offset 0`},
		{`userName eq`, `expected a value (a string in double quotes, a number, true or false) after "eq", found the end of the filter at offset 11`},
		{`userName`, `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "userName", found the end of the filter at offset 8`},
		{`userName is "x"`, `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "userName", found "is" at offset 9`},
		{`userName eq "x" "y"`, `expected "and", "or" or the end of the filter, found the string "y" at offset 16`},
		{`userName eq "x" and`, `expected an attribute name, "not (" or "(", found the end of the filter at offset 19`},
		{`userName eq 'x'`, `strings are quoted with double quotes ("), not single quotes at offset 12`},
		{`userName eq "x`, `unterminated string at offset 12`},
		{`userName eq "\x"`, `invalid escape "\\x" in a string at offset 13`},
		{`userName eq "\u12"`, `invalid \u escape in a string: it needs four hex digits at offset 13`},
		{"userName eq \"a\x01\"", `control character '\x01' in a string must be escaped at offset 14`},
		{"userName eq \"\xff\"", `a string holds bytes that are not UTF-8 at offset 13`},
		{`userName eq 01`, `"01" is not a number at offset 12`},
		{`uidNumber eq 1e999`, `unknown attribute "uidNumber" at offset 0`},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber eq 1e999`, `the number 1e999 is out of range at offset 72`},
		{`userName eq null`, `userName cannot compare with null at offset 12: to find resources without userName use not (userName pr)`},
		{`userName eq "x" #`, `unexpected character '#' at offset 16`},
		{`ims pr`, `unknown attribute "ims" at offset 0: no attribute "ims" in urn:ietf:params:scim:schemas:core:2.0:User`},
		{`name.nope pr`, `unknown attribute "name.nope" at offset 0: no sub-attribute "nope" in name`},
		{`urn:example:Nope:x pr`, `unknown attribute "urn:example:Nope:x" at offset 0: unknown schema "urn:example:Nope"`},
		{`employeeNumber eq "1"`, `unknown attribute "employeeNumber" at offset 0`},
		{`name.givenName.x pr`, `"name.givenName.x" is not an attribute path at offset 0`},
		{`1x pr`, `"1x" is not a number at offset 0`},
		{`not title pr`, `"not" must be followed by a parenthesised filter at offset 0: write not (...)`},
		{`(title pr`, `"(" is never closed at offset 0: add the matching ")"`},
		{`(title pr]`, `expected "and", "or" or ")", found "]" at offset 9`},
		{`title pr)`, `expected "and", "or" or the end of the filter, found ")" at offset 8`},
		{`emails[type eq "work"`, `"emails"[ is never closed at offset 6`},
		{`emails[type eq "work")`, `expected "and", "or" or "]", found ")" at offset 21`},
		{`emails[type[value eq "x"]]`, `value filters cannot nest: "type"[...] is inside emails[...] at offset 11`},
		{`emails[nope eq "x"]`, `unknown attribute "nope" at offset 7: emails has no sub-attribute "nope"`},
		{`emails[emails.type eq "x"]`, `"emails.type" is not a sub-attribute name at offset 7`},
		{`name[givenName eq "x"]`, `name is not a multi-valued complex attribute, so it cannot take a value filter [...] at offset 4`},
		{`userName[value eq "x"]`, `userName is not a multi-valued complex attribute`},
		{`emails[type eq "work"].value eq "x"`, `a filter cannot follow emails[...] with a sub-attribute (".value") at offset 22`},
		// Typing rules.
		{`active gt true`, `gt cannot order active, which is a boolean at offset 7: use eq or ne`},
		{`active co "t"`, `co needs a string attribute, but active is a boolean at offset 7: use eq or ne`},
		{`active eq "true"`, `active is a boolean, so it cannot be compared with the string "true" at offset 10: compare it with true or false`},
		{`emails gt "a"`, `gt cannot order emails, a complex attribute at offset 7`},
		{`name eq "x"`, `name is a complex attribute without a value sub-attribute, so it cannot be compared at offset 0: compare one of its sub-attributes, as in name.formatted`},
		{`meta.lastModified sw "2011"`, `sw needs a string attribute, but meta.lastModified is a dateTime at offset 18`},
		{`meta.lastModified gt "yesterday"`, `meta.lastModified is a dateTime, and "yesterday" is not an RFC 3339 date and time at offset 21`},
		{`meta.lastModified gt 5`, `meta.lastModified is a dateTime, so it cannot be compared with the number 5 at offset 21: compare it with a string in double quotes`},
		{`userName eq 5`, `userName is a string, so it cannot be compared with the number 5 at offset 12`},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber ew "0"`, `ew needs a string attribute, but urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber is an integer at offset 69: use eq, ne, gt, ge, lt or le`},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber eq "1000"`, `is an integer, so it cannot be compared with the string "1000"`},
		{`emails[primary co "t"]`, `co needs a string attribute, but primary is a boolean at offset 15`},
		// Offsets count characters, not bytes.
		{`userName eq "é" andd title pr`, `expected "and", "or" or the end of the filter, found "andd" at offset 16`},
	}
	for _, tc := range tests {
		_, err := Parse(rt, tc.in)
		wantErr(t, err, scimerr.InvalidFilter, tc.detail)
	}
}

func TestParseLimits(t *testing.T) {
	rt := schema.NewUserType()
	long := `userName eq "` + strings.Repeat("a", MaxLength) + `"`
	_, err := Parse(rt, long)
	wantErr(t, err, scimerr.InvalidFilter, "the filter is 4110 bytes long; the limit is 4096 bytes (MaxLength)")

	// Exactly at the limit is fine.
	atLimit := `userName eq "` + strings.Repeat("a", MaxLength-len(`userName eq ""`)) + `"`
	if _, err := Parse(rt, atLimit); err != nil {
		t.Errorf("filter of %d bytes: %v", len(atLimit), err)
	}

	nest := func(n int) string { return strings.Repeat("(", n) + "title pr" + strings.Repeat(")", n) }
	if _, err := Parse(rt, nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	_, err = Parse(rt, nest(MaxDepth+1))
	wantErr(t, err, scimerr.InvalidFilter, "the filter nests more than 32 levels deep (MaxDepth) at offset 32")

	// not and value filters count as levels too.
	deepNot := strings.Repeat("not (", MaxDepth) + `emails[type eq "x"]` + strings.Repeat(")", MaxDepth)
	_, err = Parse(rt, deepNot)
	wantErr(t, err, scimerr.InvalidFilter, "nests more than 32 levels deep")

	// A long flat chain is not nesting.
	flat := strings.Repeat("title pr and ", 300) + "title pr"
	if _, err := Parse(rt, flat); err != nil {
		t.Errorf("flat chain: %v", err)
	}
}

// wantErr checks that err is a 400 *scimerr.Error of scimType whose
// detail contains detail.
func wantErr(t *testing.T, err error, scimType, detail string) {
	t.Helper()
	var se *scimerr.Error
	if !errors.As(err, &se) {
		t.Errorf("error %v (%T) is not a *scimerr.Error, want %q", err, err, detail)
		return
	}
	if se.Status != http.StatusBadRequest || se.ScimType != scimType || !strings.Contains(se.Detail, detail) {
		t.Errorf("error = %d %s %q, want 400 %s containing %q", se.Status, se.ScimType, se.Detail, scimType, detail)
	}
}
