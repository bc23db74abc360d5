package filter

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/headwater/headwater/scim/schema"
)

func TestString(t *testing.T) {
	rt := schema.NewUserType()
	core, ent := rt.Core, rt.Extensions[0].Schema
	title := &Present{schema.Path{Schema: core, Attr: core.Attr("title")}}
	locale := &Present{schema.Path{Schema: core, Attr: core.Attr("locale")}}
	emp := &Compare{schema.Path{Schema: ent, Attr: ent.Attr("employeeNumber")}, OpEq, "7"}
	emails := core.Attr("emails")
	tests := []struct {
		e    Expr
		want string
	}{
		{&And{title, &Or{locale, emp}}, `title pr and (locale pr or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7")`},
		{&Or{&And{title, locale}, &And{locale, title}}, `title pr and locale pr or locale pr and title pr`},
		{&Or{&Or{title, locale}, title}, `title pr or locale pr or title pr`},
		{&And{&Or{title, locale}, title}, `(title pr or locale pr) and title pr`},
		{&Not{&Not{title}}, `not (not (title pr))`},
		{&ValuePath{schema.Path{Schema: core, Attr: emails}, &Or{
			&Compare{schema.Path{Schema: core, Attr: emails, Sub: emails.Sub("primary")}, OpEq, true},
			&Compare{schema.Path{Schema: core, Attr: emails, Sub: emails.Sub("value")}, OpCo, "\x01\n\t\r\b\f\"\\/é"},
		}}, `emails[primary eq true or value co "\u0001\n\t\r\u0008\u000c\"\\/é"]`},
		{&Compare{schema.Path{Schema: rt.Extensions[1].Schema, Attr: rt.Extensions[1].Schema.Attr("uidNumber")}, OpLt, json.Number("-1.5E+3")},
			`urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber lt -1.5E+3`},
		// Hand-built nonsense renders as something that will not parse,
		// rather than as a different valid filter.
		{&Compare{schema.Path{}, OpEq, 5}, `<nil> eq null`},
	}
	for _, tc := range tests {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
		if c, ok := tc.e.(*Compare); ok && c.Path.Attr == nil {
			continue
		}
		if again, err := Parse(rt, tc.e.String()); err != nil || !reflect.DeepEqual(again, tc.e) {
			t.Errorf("Parse(%s) = %v, %v; want the AST back", tc.want, again, err)
		}
	}
}
