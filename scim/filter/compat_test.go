package filter

import (
	"reflect"
	"testing"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

func TestParseCompat(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct{ in, want string }{
		// What Microsoft Entra ID sends to match a user by work email.
		{`emails[type eq "work"].value eq "user@example.com"`, `emails[type eq "work" and value eq "user@example.com"]`},
		{`emails[type eq "work"].value pr`, `emails[type eq "work" and value pr]`},
		{`emails[type eq "work" or type eq "home"].value co "@example.com"`, `emails[(type eq "work" or type eq "home") and value co "@example.com"]`},
		{`active eq true and EMAILS[TYPE EQ "work"].VALUE EQ "x" or userName eq "y"`,
			`active eq true and emails[type eq "work" and value eq "x"] or userName eq "y"`},
		// Standard filters are unchanged.
		{`userName eq "bjensen"`, `userName eq "bjensen"`},
		{`emails[type eq "work" and value eq "user@example.com"]`, `emails[type eq "work" and value eq "user@example.com"]`},
	}
	for _, tc := range tests {
		e, err := ParseCompat(rt, tc.in)
		if err != nil {
			t.Errorf("ParseCompat(%q): %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("ParseCompat(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// The rewrite is standard: strict Parse reads it back the same.
		if again, err := Parse(rt, e.String()); err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("Parse(ParseCompat(%q).String()) = %v, %v", tc.in, again, err)
		}
	}

	const entra = `emails[type eq "work"].value eq "user@example.com"`
	_, err := Parse(rt, entra)
	wantErr(t, err, scimerr.InvalidFilter, `a filter cannot follow emails[...] with a sub-attribute (".value") at offset 22`)

	e, err := ParseCompat(rt, entra)
	if err != nil {
		t.Fatal(err)
	}
	res := decode(t, `{"emails": [{"type": "home", "value": "user@example.com"}, {"type": "work", "value": "USER@example.com"}]}`)
	if !Match(rt, e, res) {
		t.Error("rewritten Entra filter does not match a work email")
	}
	res = decode(t, `{"emails": [{"type": "home", "value": "user@example.com"}, {"type": "work", "value": "other@example.com"}]}`)
	if Match(rt, e, res) {
		t.Error("rewritten Entra filter matches though the work email differs")
	}
}

func TestParseCompatErrors(t *testing.T) {
	rt := schema.NewUserType()
	tests := []struct{ in, detail string }{
		{`emails[type eq "work"].nope eq "x"`, `unknown attribute "nope" at offset 23: emails has no sub-attribute "nope"`},
		{`emails[type eq "work"].value`, `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "value", found the end of the filter at offset 28`},
		{`emails[type eq "work"].value eq`, `expected a value`},
		{`emails[type eq "work"].primary co "t"`, `co needs a string attribute, but primary is a boolean at offset 31`},
		{`emails[type eq "work"].value.x eq "y"`, `"value.x" is not a sub-attribute name at offset 23`},
		{`emails[type eq "work"].value eq "x"].value eq "y"`, `expected "and", "or" or the end of the filter, found "]"`},
	}
	for _, tc := range tests {
		_, err := ParseCompat(rt, tc.in)
		wantErr(t, err, scimerr.InvalidFilter, tc.detail)
	}
}
