package patch_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/filter"
	"github.com/headwater/headwater/scim/patch"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

func parser(rt *schema.ResourceType) patch.PathParser {
	return func(path string) (patch.Target, error) {
		p, err := filter.ParsePath(rt, path)
		if err != nil {
			return patch.Target{}, err
		}
		t := patch.Target{Attr: p.Attr, SubAttr: p.SubAttr}
		if p.Filter != nil {
			t.Filtered = true
			t.Filter = func(e map[string]any) bool { return filter.MatchValue(rt, p.Attr, p.Filter, e) }
			if c, ok := p.Filter.(*filter.Compare); ok && c.Op == filter.OpEq && c.Path.Sub != nil && c.Path.Sub.Name == "type" {
				t.TypeEq, _ = c.Value.(string)
			}
		}
		return t, nil
	}
}

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

const user = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "2819c223",
  "userName": "bjensen",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "emails": [
    {"value": "bjensen@example.com", "type": "work", "primary": true},
    {"value": "babs@jensen.org", "type": "home"}
  ],
  "phoneNumbers": [{"value": "555-555-8377", "type": "work"}]
}`

const group = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "e9e30dba",
  "displayName": "Tour Guides",
  "members": [
    {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"},
    {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy"}
  ]
}`

func TestApply(t *testing.T) {
	users, groups := schema.NewUserType(), schema.NewGroupType()
	cases := []struct {
		name string
		rt   *schema.ResourceType
		res  string
		ops  string
		want string // a JSON object whose keys must equal the result's
		err  string // scimType, when the PATCH must fail
	}{
		// RFC 7644 §3.5.2.1 (add)
		{"add members", groups, group,
			`[{"op":"add","path":"members","value":[{"display":"James","value":"08e1d05d"}]}]`,
			`{"members":[{"value":"2819c223-7f76-453a-919d-413861904646","display":"Babs"},{"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy"},{"display":"James","value":"08e1d05d"}]}`, ""},
		{"add without path", users, user,
			`[{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickName":"Babs"}}]`,
			`{"nickName":"Babs","emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]}`, ""},
		{"add merges a complex attribute", users, user,
			`[{"op":"add","path":"name","value":{"middleName":"J"}}]`,
			`{"name":{"givenName":"Barbara","familyName":"Jensen","middleName":"J"}}`, ""},
		// RFC 7644 §3.5.2.2 (remove)
		{"remove one member by filter", groups, group,
			`[{"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]`,
			`{"members":[{"value":"902c246b-6245-4190-8e05-00816be7344a","display":"Mandy"}]}`, ""},
		{"remove all members", groups, group, `[{"op":"remove","path":"members"}]`, `{"members":null}`, ""},
		{"remove a sub-attribute of filtered values", users, user,
			`[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`,
			`{"emails":[{"value":"bjensen@example.com","type":"work"},{"value":"babs@jensen.org","type":"home"}]}`, ""},
		{"remove without path", users, user, `[{"op":"remove"}]`, "", "noTarget"},
		{"remove a required attribute", users, user, `[{"op":"remove","path":"userName"}]`, "", "mutability"},
		// RFC 7644 §3.5.2.3 (replace)
		{"replace members", groups, group,
			`[{"op":"replace","path":"members","value":[{"display":"Babs","value":"2819c223-7f76-453a-919d-413861904646"},{"display":"James","value":"08e1d05d"}]}]`,
			`{"members":[{"display":"Babs","value":"2819c223-7f76-453a-919d-413861904646"},{"display":"James","value":"08e1d05d"}]}`, ""},
		{"replace a filtered sub-attribute", users, user,
			`[{"op":"replace","path":"emails[type eq \"work\"].value","value":"bjensen@example.org"}]`,
			`{"emails":[{"value":"bjensen@example.org","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]}`, ""},
		{"replace a sub-attribute", users, user,
			`[{"op":"replace","path":"name.familyName","value":"Jensen-Smith"}]`,
			`{"name":{"givenName":"Barbara","familyName":"Jensen-Smith"}}`, ""},
		{"replace sets primary and clears the old one", users, user,
			`[{"op":"add","path":"emails","value":[{"value":"new@example.com","primary":true}]}]`,
			`{"emails":[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home"},{"value":"new@example.com","primary":true}]}`, ""},
		{"replace with no matching value", users, user,
			`[{"op":"replace","path":"phoneNumbers[type eq \"fax\"]","value":{"value":"1"}}]`, "", "noTarget"},
		{"read-only attribute", users, user, `[{"op":"replace","path":"id","value":"x"}]`, "", "mutability"},
		{"bad path", users, user, `[{"op":"replace","path":"emails[type eq","value":"x"}]`, "", "invalidPath"},
		{"unknown attribute", users, user, `[{"op":"replace","path":"addresses","value":[]}]`, "", "invalidPath"},
		{"extension attribute", users, user,
			`[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Tour Operations"}]`,
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tour Operations"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`, ""},
		// The compatibility layer (Entra ID, Okta).
		{"Entra: capitalised op", users, user, `[{"op":"Replace","path":"userName","value":"babs"}]`, `{"userName":"babs"}`, ""},
		{"Entra: dotted keys without path", users, user,
			`[{"op":"replace","value":{"name.givenName":"Babs","active":false}}]`,
			`{"name":{"givenName":"Babs","familyName":"Jensen"},"active":false}`, ""},
		{"Entra: remove listed members", groups, group,
			`[{"op":"Remove","path":"members","value":[{"value":"902c246b-6245-4190-8e05-00816be7344a"}]}]`,
			`{"members":[{"value":"2819c223-7f76-453a-919d-413861904646","display":"Babs"}]}`, ""},
		{"Entra: replace a filtered value that does not exist yet", users, user,
			`[{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"555-1234"}]`,
			`{"phoneNumbers":[{"value":"555-555-8377","type":"work"},{"type":"mobile","value":"555-1234"}]}`, ""},
		{"Okta: rename with the group's own id", groups, group,
			`[{"op":"replace","value":{"id":"e9e30dba","displayName":"Tour Leaders"}}]`,
			`{"displayName":"Tour Leaders","id":"e9e30dba"}`, ""},
		{"Okta: someone else's id is refused", groups, group,
			`[{"op":"replace","value":{"id":"other","displayName":"X"}}]`, "", "mutability"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := obj(t, tc.res)
			before := obj(t, tc.res)
			body := obj(t, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+tc.ops+`}`)
			opts := patch.Options{Compat: true}
			ops, err := patch.ParseRequest(body, opts)
			if err == nil {
				var out map[string]any
				out, err = patch.Apply(tc.rt, res, ops, parser(tc.rt), opts)
				if err == nil {
					if tc.err != "" {
						t.Fatalf("PATCH succeeded, want %s: %v", tc.err, out)
					}
					want := obj(t, tc.want)
					for k, v := range want {
						got := out[k]
						if v == nil && got == nil {
							continue
						}
						if !reflect.DeepEqual(got, v) {
							gj, _ := json.Marshal(got)
							wj, _ := json.Marshal(v)
							t.Fatalf("%s = %s, want %s", k, gj, wj)
						}
					}
				}
			}
			if tc.err == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.err != "" {
				var se *scimerr.Error
				if !errors.As(err, &se) || se.ScimType != tc.err || se.Status != 400 {
					t.Fatalf("got %v, want 400 %s", err, tc.err)
				}
			}
			if !reflect.DeepEqual(res, before) {
				t.Fatal("Apply modified its input")
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	for _, body := range []string{
		`{"Operations":[{"op":"add","path":"title","value":"x"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"title"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"title"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":["add"]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"title","value":"x"}]}`,
	} {
		_, err := patch.ParseRequest(obj(t, body), patch.Options{})
		var se *scimerr.Error
		if !errors.As(err, &se) || se.Status != 400 {
			t.Errorf("ParseRequest(%s) = %v, want a 400", body, err)
		}
	}
}

// FuzzApply runs arbitrary PatchOp bodies against a user: never a panic,
// every failure a 400 SCIM error, and the input never modified.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`[{"op":"add","path":"emails","value":[{"value":"x@y.z","primary":true}]}]`,
		`[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
		`[{"op":"Replace","value":{"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}}]`,
		`[{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"1"}]`,
		`[{"op":"remove","path":"name.givenName"},{"op":"add","path":"name","value":{}}]`,
		`[{"op":"replace","path":"emails","value":null}]`,
		`[{"op":"add","path":"meta.version","value":"1"}]`,
	} {
		f.Add(s)
	}
	rt := schema.NewUserType()
	f.Fuzz(func(t *testing.T, ops string) {
		dec := json.NewDecoder(strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`))
		dec.UseNumber()
		var body map[string]any
		if dec.Decode(&body) != nil {
			return
		}
		parsed, err := patch.ParseRequest(body, patch.Options{Compat: true})
		if err != nil {
			var se *scimerr.Error
			if !errors.As(err, &se) || se.Status != 400 {
				t.Fatalf("ParseRequest error %v", err)
			}
			return
		}
		res := obj(t, user)
		before := obj(t, user)
		if _, err := patch.Apply(rt, res, parsed, parser(rt), patch.Options{Compat: true}); err != nil {
			var se *scimerr.Error
			if !errors.As(err, &se) || se.Status != 400 {
				t.Fatalf("Apply error %v", err)
			}
		}
		if !reflect.DeepEqual(res, before) {
			t.Fatal("Apply modified its input")
		}
	})
}
