package scim_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestBulk(t *testing.T) {
	f := setup(t)
	body := map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []map[string]any{
			{"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": map[string]any{
				"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "Alice"}},
			{"method": "POST", "path": "/Groups", "bulkId": "ytrewq", "data": map[string]any{
				"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Tour Guides",
				"members": []map[string]any{{"type": "User", "value": "bulkId:qwerty"}}}},
			{"method": "PATCH", "path": "/Users/bulkId:qwerty", "data": map[string]any{
				"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "replace", "path": "title", "value": "Guide"}}}},
			{"method": "POST", "path": "/Users", "bulkId": "dup", "data": map[string]any{
				"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "ALICE"}},
			{"method": "DELETE", "path": "/Users/bulkId:never"},
		},
	}
	r := f.want(f.do("POST", "/Bulk", body), 200)
	ops, _ := r.body["Operations"].([]any)
	if len(ops) != 5 {
		t.Fatalf("bulk response: %s", r.raw)
	}
	status := func(i int) string { return ops[i].(map[string]any)["status"].(string) }
	if status(0) != "201" || status(1) != "201" || status(2) != "200" || status(3) != "409" || status(4) != "409" {
		t.Fatalf("statuses %s %s %s %s %s: %s", status(0), status(1), status(2), status(3), status(4), r.raw)
	}
	loc, _ := ops[0].(map[string]any)["location"].(string)
	if !strings.Contains(loc, "/Users/") || ops[0].(map[string]any)["version"] == nil {
		t.Fatalf("created user location/version: %s", r.raw)
	}
	if resp, _ := ops[3].(map[string]any)["response"].(map[string]any); resp["scimType"] != "uniqueness" {
		t.Fatalf("failed operation's response: %s", r.raw)
	}
	g := f.want(f.do("GET", "/Groups"+q(`displayName eq "Tour Guides"`), nil), 200)
	res := g.body["Resources"].([]any)[0].(map[string]any)
	if ms, _ := res["members"].([]any); len(ms) != 1 {
		t.Fatalf("bulkId member reference not resolved: %s", g.raw)
	}
	u := f.want(f.do("GET", "/Users"+q(`userName eq "alice"`), nil), 200)
	if u.body["Resources"].([]any)[0].(map[string]any)["title"] != "Guide" {
		t.Fatalf("bulkId path reference not resolved: %s", u.raw)
	}

	// failOnErrors stops after the first error.
	body["failOnErrors"] = 1
	body["Operations"] = []map[string]any{
		{"method": "POST", "path": "/Users", "bulkId": "a", "data": map[string]any{"userName": "alice"}},
		{"method": "POST", "path": "/Users", "bulkId": "b", "data": map[string]any{"userName": "bob"}},
	}
	r = f.want(f.do("POST", "/Bulk", body), 200)
	if ops, _ := r.body["Operations"].([]any); len(ops) != 1 {
		t.Fatalf("failOnErrors 1 ran %d operations: %s", len(ops), r.raw)
	}
	// Limits.
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = map[string]any{"method": "DELETE", "path": "/Users/x"}
	}
	body["Operations"] = many
	delete(body, "failOnErrors")
	f.wantError(f.do("POST", "/Bulk", body), 413, "")
	f.wantError(f.do("POST", "/Bulk", map[string]any{"Operations": []any{}}), 400, "invalidSyntax")
}

func TestRootSearch(t *testing.T) {
	f := setup(t)
	f.want(f.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "finder", "displayName": "Shared Name"}), 201)
	f.want(f.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Shared Name"}), 201)
	search := func(filter string) resp {
		return f.do("POST", "/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": filter, "sortBy": "displayName"})
	}
	r := f.want(search(`displayName eq "Shared Name"`), 200)
	if total(r) != 2 {
		t.Fatalf("displayName across users and groups: %s", r.raw)
	}
	r = f.want(search(`userName eq "finder"`), 200)
	if total(r) != 1 {
		t.Fatalf("a users-only filter: %s", r.raw)
	}
	f.wantError(search(`shoeSize eq 3`), 400, "invalidFilter")
}

func TestPosixExtension(t *testing.T) {
	f := setup(t)
	const ext = "urn:headwater:params:scim:schemas:extension:posix:1.0:User"
	r := f.want(f.do("POST", "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User", ext},
		"userName": "posix.given",
		ext:        map[string]any{"uidNumber": 23456, "gidNumber": 100, "homeDirectory": "/home/pg", "loginShell": "/bin/zsh"},
	}), 201)
	p, _ := r.body[ext].(map[string]any)
	if p["uidNumber"] != 23456.0 || p["gidNumber"] != 100.0 || p["homeDirectory"] != "/home/pg" || p["loginShell"] != "/bin/zsh" {
		t.Fatalf("given POSIX values not kept: %s", r.raw)
	}
	r = f.want(f.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "posix.auto"}), 201)
	if p, _ := r.body[ext].(map[string]any); p["uidNumber"] == nil || p["uidNumber"] == 23456.0 {
		t.Fatalf("uidNumber not allocated: %s", r.raw)
	}
	f.wantError(f.do("POST", "/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User", ext}, "userName": "posix.dup",
		ext: map[string]any{"uidNumber": 23456},
	}), 409, "uniqueness")
	r = f.want(f.do("POST", "/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group", "urn:headwater:params:scim:schemas:extension:posix:1.0:Group"}, "displayName": "posix group",
		"urn:headwater:params:scim:schemas:extension:posix:1.0:Group": map[string]any{"gidNumber": 34567},
	}), 201)
	if p, _ := r.body["urn:headwater:params:scim:schemas:extension:posix:1.0:Group"].(map[string]any); p["gidNumber"] != 34567.0 {
		t.Fatalf("group gidNumber: %s", r.raw)
	}
}

// TestMemberPatchIsAtomic adds a real and a missing member and removes one
// in a single PATCH: nothing changes.
func TestMemberPatchIsAtomic(t *testing.T) {
	f := setup(t)
	a := f.want(f.do("POST", "/Users", map[string]any{"userName": "a"}), 201).body["id"]
	b := f.want(f.do("POST", "/Users", map[string]any{"userName": "b"}), 201).body["id"]
	gid := f.want(f.do("POST", "/Groups", map[string]any{"displayName": "g", "members": []map[string]any{{"value": a}}}), 201).body["id"].(string)
	f.wantError(f.do("PATCH", "/Groups/"+gid, patchOp(
		op("remove", `members[value eq "`+a.(string)+`"]`, nil),
		op("add", "members", []map[string]any{{"value": b}, {"value": "ghost"}}),
	)), 400, "invalidValue")
	r := f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	ms, _ := r.body["members"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["value"] != a {
		t.Fatalf("a failed member PATCH changed the group: %s", r.raw)
	}
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(
		op("remove", `members[value eq "`+a.(string)+`"]`, nil),
		op("add", "members", []map[string]any{{"value": b}}),
	)), 200)
	r = f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	ms, _ = r.body["members"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["value"] != b {
		t.Fatalf("member PATCH: %s", r.raw)
	}
}

// TestHostileQueries: very long and deeply nested filters, and a PATCH
// with thousands of operations, get a clear 4xx, never a 500 or a hang.
func TestHostileQueries(t *testing.T) {
	f := setup(t)
	long := `userName eq "` + strings.Repeat("a", 5000) + `"`
	f.wantError(f.do("GET", "/Users"+q(long), nil), 400, "invalidFilter")
	deep := strings.Repeat("not (", 40) + `userName eq "x"` + strings.Repeat(")", 40)
	f.wantError(f.do("GET", "/Users"+q(deep), nil), 400, "invalidFilter")
	f.wantError(f.do("POST", "/Users/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": deep}), 400, "invalidFilter")
	id := f.want(f.do("POST", "/Users", map[string]any{"userName": "target"}), 201).body["id"].(string)
	var ops []map[string]any
	for i := 0; i < 5000; i++ {
		ops = append(ops, op("add", "phoneNumbers", []map[string]any{{"value": fmt.Sprint(i)}}))
	}
	r := f.do("PATCH", "/Users/"+id, patchOp(ops...))
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("5,000 phone numbers: status %d: %.200s", r.status, r.raw)
	}
	f.want(f.do("GET", "/Users/"+id, nil), 200)
}
