package resource

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

func testGroup() *authority.Group {
	return &authority.Group{ID: "g1", DisplayName: "Tour Guides", ExternalID: "ext-1", Description: "not SCIM",
		GIDNumber: 20001, Created: created, Modified: modified, Version: 7}
}

func TestGroupToSCIM(t *testing.T) {
	g := testGroup()
	members := []MemberRef{{ID: "u1", Display: "Babs Jensen"}, {ID: "u2"}}
	want := map[string]any{
		"schemas":     []any{schema.GroupURN, schema.PosixGroupURN},
		"id":          "g1",
		"externalId":  "ext-1",
		"displayName": "Tour Guides",
		"members": []any{
			map[string]any{"value": "u1", "$ref": base + "/Users/u1", "display": "Babs Jensen", "type": "User"},
			map[string]any{"value": "u2", "$ref": base + "/Users/u2", "type": "User"},
		},
		schema.PosixGroupURN: map[string]any{"gidNumber": json.Number("20001")},
		"meta": map[string]any{"resourceType": "Group", "created": "2024-03-01T08:30:15Z", "lastModified": "2025-01-02T03:04:05Z",
			"location": base + "/Groups/g1", "version": `W/"7"`},
	}
	if got := GroupToSCIM(g, members, true, base); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	delete(want, "members")
	if got := GroupToSCIM(g, members, false, base); !reflect.DeepEqual(got, want) {
		t.Errorf("without members: got %v", got)
	}
	if got := GroupToSCIM(g, nil, true, base); !reflect.DeepEqual(got, want) {
		t.Errorf("no members: got %v", got)
	}
}

func TestGroupRoundTrip(t *testing.T) {
	g := testGroup()
	members := []MemberRef{{ID: "u1", Display: "Babs"}, {ID: "u2"}}
	res := viaJSON(t, GroupToSCIM(g, members, true, base))
	got := &authority.Group{ID: g.ID, DisplayName: "old", ExternalID: "old", Description: g.Description, GIDNumber: 1,
		Created: g.Created, Modified: g.Modified, Version: g.Version}
	ids, given, err := GroupFromSCIM(res, got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, g) || !given || !reflect.DeepEqual(ids, []string{"u1", "u2"}) {
		t.Errorf("got %+v members %v given %t", got, ids, given)
	}
}

func TestGroupFromSCIM(t *testing.T) {
	cases := []struct {
		body    string
		want    authority.Group
		members []string
		given   bool
	}{
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins"}`,
			authority.Group{ID: "g1", DisplayName: "Admins", Description: "not SCIM", GIDNumber: 20001}, nil, false},
		{`{"DISPLAYNAME":"Admins","externalId":"e","Members":[]}`,
			authority.Group{ID: "g1", DisplayName: "Admins", ExternalID: "e", Description: "not SCIM", GIDNumber: 20001}, nil, true},
		{`{"displayName":"Admins","members":null}`,
			authority.Group{ID: "g1", DisplayName: "Admins", Description: "not SCIM", GIDNumber: 20001}, nil, true},
		{`{"displayName":"Admins","members":[{"value":"b","type":"user","display":42},{"VALUE":"a"},{"value":"b"},null],
			"urn:headwater:params:scim:schemas:extension:posix:1.0:Group":{"gidNumber":30000}}`,
			authority.Group{ID: "g1", DisplayName: "Admins", Description: "not SCIM", GIDNumber: 30000}, []string{"b", "a"}, true},
		{`{"displayName":"Admins","urn:headwater:params:scim:schemas:extension:posix:1.0:Group:gidNumber":30001}`,
			authority.Group{ID: "g1", DisplayName: "Admins", Description: "not SCIM", GIDNumber: 30001}, nil, false},
	}
	for _, c := range cases {
		g := &authority.Group{ID: "g1", DisplayName: "old", ExternalID: "old", Description: "not SCIM", GIDNumber: 20001}
		members, given, err := GroupFromSCIM(decode(t, c.body), g)
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if *g != c.want || !reflect.DeepEqual(members, c.members) || given != c.given {
			t.Errorf("%s:\n got %+v %v %t\nwant %+v %v %t", c.body, *g, members, given, c.want, c.members, c.given)
		}
	}
}

func TestGroupFromSCIMErrors(t *testing.T) {
	cases := []struct {
		body     string
		scimType string
		names    []string
	}{
		{`{}`, scimerr.InvalidValue, []string{"displayName", "required"}},
		{`{"displayName":5}`, scimerr.InvalidValue, []string{"displayName"}},
		{`{"displayName":"A","members":[{"display":"Babs"}]}`, scimerr.InvalidValue, []string{"members", "value"}},
		{`{"displayName":"A","members":[{"value":"g2","type":"Group"}]}`, scimerr.InvalidValue, []string{"members", "nested groups"}},
		{`{"displayName":"A","members":{"value":"u1"}}`, scimerr.InvalidValue, []string{"members", "list"}},
		{`{"displayName":"A","members":[{"value":1}]}`, scimerr.InvalidValue, []string{"members[0].value"}},
		{`{"displayName":"A","urn:headwater:params:scim:schemas:extension:posix:1.0:Group":{"gidNumber":"x"}}`, scimerr.InvalidValue, []string{"gidNumber"}},
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"A"}`, scimerr.InvalidSyntax, []string{schema.GroupURN}},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			g := testGroup()
			_, _, err := GroupFromSCIM(decode(t, c.body), g)
			wantSCIMError(t, err, c.scimType, c.names...)
			if *g != *testGroup() {
				t.Errorf("group changed despite the error: %+v", g)
			}
		})
	}
}
