package resource

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/headwater/headwater/scim/schema"
)

func TestProjectUser(t *testing.T) {
	rt := schema.NewUserType()
	const ent, px = schema.EnterpriseURN, schema.PosixUserURN
	full := func() map[string]any {
		return viaJSON(t, UserToSCIM(fullUser(), []GroupRef{{ID: "g1", DisplayName: "G"}}, base))
	}
	id := fullUser().ID
	cases := []struct {
		name          string
		attrs, excl   []string
		want          map[string]any // nil: the full representation
		wantMissing   []string       // with want nil: keys removed from the full one
		wantExtension map[string]map[string]any
	}{
		{name: "neither parameter", want: nil},
		{name: "attributes: listed plus always-returned id",
			attrs: []string{"userName"},
			want:  map[string]any{"schemas": []any{schema.UserURN}, "id": id, "userName": "bjensen"}},
		{name: "attributes are case-insensitive and may be comma-separated",
			attrs: []string{"USERNAME, displayname", "Title"},
			want:  map[string]any{"schemas": []any{schema.UserURN}, "id": id, "userName": "bjensen", "displayName": "Babs Jensen", "title": "Tour Guide"}},
		{name: "attributes: sub-attribute",
			attrs: []string{"name.givenName", "NAME.familyname"},
			want:  map[string]any{"schemas": []any{schema.UserURN}, "id": id, "name": map[string]any{"givenName": "Barbara", "familyName": "Jensen"}}},
		{name: "attributes: sub-attribute of a multi-valued attribute",
			attrs: []string{"emails.value"},
			want: map[string]any{"schemas": []any{schema.UserURN}, "id": id,
				"emails": []any{map[string]any{"value": "bjensen@example.com"}, map[string]any{"value": "babs@jensen.org"}}}},
		{name: "attributes: whole attribute wins over its sub-attribute",
			attrs: []string{"name.givenName", "name"},
			want: map[string]any{"schemas": []any{schema.UserURN}, "id": id, "name": map[string]any{"formatted": "Ms. Barbara J Jensen, III",
				"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"}}},
		{name: "attributes: URN-qualified extension attribute",
			attrs: []string{ent + ":department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:MANAGER.value"},
			want: map[string]any{"schemas": []any{schema.UserURN, ent}, "id": id,
				ent: map[string]any{"department": "Tour Operations", "manager": map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}}},
		{name: "attributes: URN-qualified core attribute",
			attrs: []string{schema.UserURN + ":userName"},
			want:  map[string]any{"schemas": []any{schema.UserURN}, "id": id, "userName": "bjensen"}},
		{name: "attributes: a whole extension by its URN",
			attrs: []string{px},
			want: map[string]any{"schemas": []any{schema.UserURN, px}, "id": id, px: map[string]any{"uidNumber": json.Number("10001"),
				"gidNumber": json.Number("10001"), "homeDirectory": "/home/bjensen", "loginShell": "/bin/bash"}}},
		{name: "attributes: meta only when asked",
			attrs: []string{"meta.version"},
			want:  map[string]any{"schemas": []any{schema.UserURN}, "id": id, "meta": map[string]any{"version": `W/"42"`}}},
		{name: "attributes: unknown paths select nothing",
			attrs: []string{"nosuch", "urn:example:nope:1.0:User:x", "name.nosuch"},
			want:  map[string]any{"schemas": []any{schema.UserURN}, "id": id}},
		{name: "attributes: id can be asked for", attrs: []string{"id"},
			want: map[string]any{"schemas": []any{schema.UserURN}, "id": id}},
		{name: "excludedAttributes: id is always returned", excl: []string{"id", "ID"}, want: nil},
		{name: "excludedAttributes: attributes and sub-attributes",
			excl:        []string{"emails", "name.givenName", "Meta", "groups.display", px + ":uidNumber"},
			wantMissing: []string{"emails", "meta"},
			wantExtension: map[string]map[string]any{
				"name":   {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
				"groups": {"value": "g1", "$ref": base + "/Groups/g1", "type": "direct"},
				px:       {"gidNumber": json.Number("10001"), "homeDirectory": "/home/bjensen", "loginShell": "/bin/bash"},
			}},
		{name: "excludedAttributes: a whole extension leaves schemas too",
			excl: []string{ent}, wantMissing: []string{ent}},
		{name: "both: attributes select, excludedAttributes remove",
			attrs: []string{"name", "userName"}, excl: []string{"name.formatted", "userName", "id"},
			want: map[string]any{"schemas": []any{schema.UserURN}, "id": id, "name": map[string]any{
				"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := full()
			got := Project(rt, in, c.attrs, c.excl)
			if !reflect.DeepEqual(in, full()) {
				t.Fatal("Project changed its input")
			}
			want := c.want
			if want == nil {
				want = full()
				for _, k := range c.wantMissing {
					delete(want, k)
					if k == ent {
						want["schemas"] = []any{schema.UserURN, px}
					}
				}
				for k, v := range c.wantExtension {
					if k == "groups" {
						want[k] = []any{v}
					} else {
						want[k] = v
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("got\n%s", gj)
			}
		})
	}
}

func TestProjectDoesNotShareMemory(t *testing.T) {
	in := viaJSON(t, UserToSCIM(fullUser(), nil, base))
	for _, params := range [][2][]string{{nil, nil}, {{"emails", "name"}, nil}, {nil, {"id"}}} {
		out := Project(schema.NewUserType(), in, params[0], params[1])
		out["emails"].([]any)[0].(map[string]any)["value"] = "changed@example.com"
		out["name"].(map[string]any)["givenName"] = "changed"
		if in["emails"].([]any)[0].(map[string]any)["value"] != "bjensen@example.com" || in["name"].(map[string]any)["givenName"] != "Barbara" {
			t.Fatalf("%v: changing the projection changed the input", params)
		}
	}
}

func TestProjectDropsNeverReturned(t *testing.T) {
	in := map[string]any{"schemas": []any{schema.UserURN}, "id": "u1", "userName": "x", "Password": "secret"}
	for _, attrs := range [][]string{nil, {"password"}} {
		if got := Project(schema.NewUserType(), in, attrs, nil); got["Password"] != nil {
			t.Errorf("attributes %v: password returned", attrs)
		}
	}
}

func TestProjectGroup(t *testing.T) {
	rt := schema.NewGroupType()
	in := viaJSON(t, GroupToSCIM(testGroup(), []MemberRef{{ID: "u1", Display: "Babs"}}, true, base))
	got := Project(rt, in, nil, []string{"members"})
	if _, ok := got["members"]; ok || got["displayName"] != "Tour Guides" || got["meta"] == nil {
		t.Errorf("excludedAttributes=members: %v", got)
	}
	got = Project(rt, in, []string{"displayName"}, nil)
	want := map[string]any{"schemas": []any{schema.GroupURN}, "id": "g1", "displayName": "Tour Guides"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes=displayName: %v", got)
	}
	got = Project(rt, in, []string{"members.value", schema.PosixGroupURN + ":gidNumber"}, nil)
	want = map[string]any{"schemas": []any{schema.GroupURN, schema.PosixGroupURN}, "id": "g1",
		"members": []any{map[string]any{"value": "u1"}}, schema.PosixGroupURN: map[string]any{"gidNumber": json.Number("20001")}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes=members.value: %v", got)
	}
}
