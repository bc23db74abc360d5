package filter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/schema"
)

// decode reads a resource as the server holds one: encoding/json with
// UseNumber.
func decode(tb testing.TB, s string) map[string]any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// bjensen is RFC 7643 §8.2's user, trimmed, with keys in mixed case to
// show that names match case-insensitively.
const bjensen = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "BJensen-ext",
  "userName": "bjensen@example.com",
  "name": {"familyName": "O'Malley", "givenName": "Barbara"},
  "Title": "Tour Guide",
  "userType": "Employee",
  "active": true,
  "emails": [
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "babs@jensen.org", "type": "home"}
  ],
  "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
  "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {
    "employeeNumber": "701984",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
  },
  "urn:headwater:params:scim:schemas:extension:posix:1.0:User": {"uidNumber": 10001}
}`

// intern has none of title, and no work email.
const intern = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "i-1",
  "userName": "jsmith",
  "title": "",
  "userType": "Intern",
  "active": false,
  "emails": [{"value": "js@example.org", "type": "home"}],
  "meta": {"lastModified": "2011-05-13T06:42:34+02:00"}
}`

func TestMatchRFCExamples(t *testing.T) {
	rt := schema.NewUserType()
	b, i := decode(t, bjensen), decode(t, intern)
	tests := []struct {
		filter          string
		bjensen, intern bool
	}{
		{`userName eq "bjensen"`, false, false},
		{`userName eq "BJENSEN@example.com"`, true, false},
		{`name.familyName co "O'Malley"`, true, false},
		{`userName sw "J"`, false, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, false, true},
		{`title pr`, true, false}, // the intern's title is empty
		// The intern's lastModified is the same instant written in +02:00.
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, false, false},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, true, true},
		{`meta.lastModified lt "2011-05-13T04:42:34Z"`, false, false},
		{`meta.lastModified le "2011-05-13T04:42:34Z"`, true, true},
		{`meta.lastModified eq "2011-05-13T04:42:34.000Z"`, true, true},
		{`meta.lastModified gt "2011-05-13T04:42:33.5Z"`, true, true},
		{`title pr and userType eq "Employee"`, true, false},
		{`title pr or userType eq "Intern"`, true, true},
		{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, true, false},
		{`schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"`, true, true},
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, true, false},
		{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, false, false},
		{`userType ne "Employee" and not (emails co "example.com")`, false, true},
		{`userType eq "Employee" and (emails.type eq "work")`, true, false},
		{`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, true, false},
		{`emails[type eq "work" and value co "@example.com"] or emails[type eq "home" and value co "@example.org"]`, true, true},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.filter, err)
			continue
		}
		if got := Match(rt, e, b); got != tc.bjensen {
			t.Errorf("Match(%q, bjensen) = %v, want %v", tc.filter, got, tc.bjensen)
		}
		if got := Match(rt, e, i); got != tc.intern {
			t.Errorf("Match(%q, intern) = %v, want %v", tc.filter, got, tc.intern)
		}
	}
}

func TestMatchRules(t *testing.T) {
	rt := schema.NewUserType()
	b := decode(t, bjensen)
	tests := []struct {
		filter string
		want   bool
	}{
		// userName is caseExact=false; id and externalId are caseExact=true.
		{`userName eq "BJensen@Example.COM"`, true},
		{`userName co "JENSEN"`, true},
		{`userName ew "EXAMPLE.COM"`, true},
		{`id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{`id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{`externalId eq "BJensen-ext"`, true},
		{`externalId eq "bjensen-ext"`, false},
		{`externalId sw "BJ"`, true},
		{`externalId sw "bj"`, false},
		// Lexicographic ordering of strings follows the case rules too.
		{`userName gt "BJENSEN"`, true},
		{`userName lt "bjensen@example.cOl"`, false},
		{`userName lt "BJENSEN@example.con"`, true},
		{`externalId gt "a"`, false}, // "B" < "a" when case counts
		{`userName ge "bjensen@example.com"`, true},
		{`userName le "BJENSEN@EXAMPLE.COM"`, true},
		// Attribute names and extension URNs in any case.
		{`title eq "tour guide"`, true},
		{`TITLE eq "Tour Guide"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr`, false},
		// Numbers compare numerically, whatever their spelling.
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber eq 10001`, true},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber eq 1.0001e4`, true},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber gt 9999.5`, true},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber lt 10001`, false},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber le 10001`, true},
		{`urn:headwater:params:scim:schemas:extension:posix:1.0:User:gidNumber ne 5`, true},
		// Booleans.
		{`active eq true`, true},
		{`active ne true`, false},
		{`emails[primary eq true and type eq "work"]`, true},
		{`emails[primary eq true and type eq "home"]`, false},
		// Multi-valued: any value matches; ne is "no value is equal".
		{`emails.type eq "home"`, true},
		{`emails.value ne "babs@jensen.org"`, false},
		{`emails.value ne "nobody@example.com"`, true},
		{`emails.value gt "c"`, false},
		{`emails.value lt "c"`, true},
		// ne matches an absent attribute; other operators do not.
		{`nickName ne "x"`, true},
		{`nickName eq "x"`, false},
		{`nickName lt "x"`, false},
		{`phoneNumbers.value ne "x"`, true},
		{`phoneNumbers[type eq "work"]`, false},
		{`not (phoneNumbers[type eq "work"])`, true},
		// pr.
		{`emails pr`, true},
		{`emails.display pr`, false},
		{`name pr`, true},
		{`name.middleName pr`, false},
		{`meta.created pr`, true},
		{`phoneNumbers pr`, false},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.filter, err)
			continue
		}
		if got := Match(rt, e, b); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestMatchEmptyValues(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct {
		res    string
		filter string
		want   bool
	}{
		{`{"title": null}`, `title pr`, false},
		{`{"title": ""}`, `title pr`, false},
		{`{"title": "x"}`, `title pr`, true},
		{`{"emails": []}`, `emails pr`, false},
		{`{"emails": [{}]}`, `emails pr`, false},
		{`{"emails": [{"value": ""}]}`, `emails pr`, false},
		{`{"emails": [{"primary": false}]}`, `emails pr`, true},
		{`{"name": {}}`, `name pr`, false},
		{`{"name": {"givenName": null}}`, `name pr`, false},
		{`{"active": false}`, `active pr`, true},
		{`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}}`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, false},
		// Values of the wrong JSON type do not match, and do not panic.
		{`{"userName": 5}`, `userName eq "5"`, false},
		{`{"userName": ["a"]}`, `userName eq "a"`, true},
		{`{"active": "true"}`, `active eq true`, false},
		{`{"emails": "x@example.com"}`, `emails.value eq "x@example.com"`, false},
		{`{"emails": {"value": "x@example.com"}}`, `emails.value eq "x@example.com"`, true},
		{`{"emails": [1, "a", null, {"value": 2}]}`, `emails.value co "a"`, false},
		{`{"emails": [1, "a", null]}`, `emails[value pr]`, false},
		{`{"meta": {"lastModified": "not a date"}}`, `meta.lastModified lt "2030-01-01T00:00:00Z"`, false},
		{`{"urn:headwater:params:scim:schemas:extension:posix:1.0:User": {"uidNumber": "5"}}`,
			`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber eq 5`, false},
		{`{"urn:headwater:params:scim:schemas:extension:posix:1.0:User": 7}`,
			`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber pr`, false},
		// Keys differing only in case: the exact spelling wins.
		{`{"userName": "a", "USERNAME": "b"}`, `userName eq "a"`, true},
		{`{"USERNAME": "b", "username": "a"}`, `userName eq "b"`, true},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.filter, err)
			continue
		}
		if got := Match(rt, e, decode(t, tc.res)); got != tc.want {
			t.Errorf("Match(%q, %s) = %v, want %v", tc.filter, tc.res, got, tc.want)
		}
	}
}

func TestMatchNumbers(t *testing.T) {
	// Resources decoded without UseNumber, or built in Go, hold float64
	// and int; large integers compare exactly.
	rt := schema.NewUserType()
	const uid = "urn:headwater:params:scim:schemas:extension:posix:1.0:User"
	tests := []struct {
		value  any
		filter string
		want   bool
	}{
		{float64(1000), `eq 1000`, true},
		{1000, `eq 1e3`, true},
		{int64(9007199254740993), `eq 9007199254740992`, false},
		{json.Number("9007199254740993"), `gt 9007199254740992`, true},
		{json.Number("12345678901234567890123"), `gt 12345678901234567890122`, true},
		{json.Number("0.1"), `lt 0.2`, true},
		{json.Number("-0"), `eq 0`, true},
		{json.Number("1e99999"), `gt 1`, false},
		{json.Number("bogus"), `ne 1`, true},
		{"1000", `eq 1000`, false},
	}
	for _, tc := range tests {
		e, err := Parse(rt, uid+":uidNumber "+tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		res := map[string]any{uid: map[string]any{"uidNumber": tc.value}}
		if got := Match(rt, e, res); got != tc.want {
			t.Errorf("uidNumber %v %s = %v, want %v", tc.value, tc.filter, got, tc.want)
		}
	}
}

func TestMatchFold(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct {
		stored, filter string
		want           bool
	}{
		{"ÉCOLE", `displayName eq "école"`, true},
		{"Straße", `displayName sw "STRA"`, true},
		{"\u212Aelvin", `displayName eq "kelvin"`, true}, // Kelvin sign
		{"ſam", `displayName eq "SAM"`, true},
		{"Σίσυφος", `displayName ew "ΦΟΣ"`, true},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := Match(rt, e, map[string]any{"displayName": tc.stored}); got != tc.want {
			t.Errorf("%q %s = %v, want %v", tc.stored, tc.filter, got, tc.want)
		}
	}
}

func TestMatchGroups(t *testing.T) {
	rt := schema.NewGroupType()
	g := decode(t, `{
	  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
	  "displayName": "Tour Guides",
	  "members": [
	    {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
	    {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
	  ]
	}`)
	tests := []struct {
		filter string
		want   bool
	}{
		{`displayName eq "tour guides"`, true},
		{`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, true},
		// members.value is caseExact.
		{`members[value eq "2819C223-7F76-453A-919D-413861904646"]`, false},
		{`members eq "902c246b-6245-4190-8e05-00816be7344a"`, true},
		{`members[display sw "mandy"]`, true},
		{`members[display sw "mandy" and value sw "28"]`, false},
	}
	for _, tc := range tests {
		e, err := Parse(rt, tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.filter, err)
			continue
		}
		if got := Match(rt, e, g); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}
