package scim_test

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentPatchesLoseNothing sends PATCHes from several clients at
// once, each adding its own phone number, without If-Match: every one must
// be applied (the server re-applies a PATCH when the user changed under
// it), and concurrent member adds must all land.
func TestConcurrentPatchesLoseNothing(t *testing.T) {
	f := setup(t)
	r := f.want(f.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "busy"}), 201)
	id := r.body["id"].(string)
	g := f.want(f.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "crowd"}), 201)
	gid := g.body["id"].(string)
	var members []string
	for i := 0; i < 8; i++ {
		u := f.want(f.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": fmt.Sprintf("m%d", i)}), 201)
		members = append(members, u.body["id"].(string))
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			r := f.do("PATCH", "/Users/"+id, patchOp(op("add", "phoneNumbers", []map[string]any{{"value": fmt.Sprintf("+1-555-000%d", i), "type": "work"}})))
			if r.status != 200 {
				errs <- r.raw
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			r := f.do("PATCH", "/Groups/"+gid, patchOp(op("add", "members", []map[string]any{{"value": members[i]}})))
			if r.status != 200 {
				errs <- r.raw
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("concurrent PATCH failed: %s", e)
	}
	r = f.want(f.do("GET", "/Users/"+id, nil), 200)
	if phones, _ := r.body["phoneNumbers"].([]any); len(phones) != n {
		t.Fatalf("%d of %d concurrent PATCHes survived: %s", len(phones), n, r.raw)
	}
	r = f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	if ms, _ := r.body["members"].([]any); len(ms) != n {
		t.Fatalf("%d of %d concurrent member adds survived", len(ms), n)
	}
}

// TestGroupPatchIsAtomic renames a group and adds a member that does not
// exist in one PATCH: the PATCH fails and the name is unchanged.
func TestGroupPatchIsAtomic(t *testing.T) {
	f := setup(t)
	u := f.want(f.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "real"}), 201)
	g := f.want(f.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "before"}), 201)
	gid := g.body["id"].(string)
	f.wantError(f.do("PATCH", "/Groups/"+gid, patchOp(
		op("replace", "displayName", "after"),
		op("add", "members", []map[string]any{{"value": u.body["id"]}, {"value": "ghost"}}),
	)), 400, "invalidValue")
	r := f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	if r.body["displayName"] != "before" || r.body["members"] != nil {
		t.Fatalf("a failed PATCH was partly applied: %s", r.raw)
	}
	// The same PATCH with a real member applies both changes.
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(
		op("replace", "displayName", "after"),
		op("add", "members", []map[string]any{{"value": u.body["id"]}}),
	)), 200)
	r = f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	if r.body["displayName"] != "after" || len(r.body["members"].([]any)) != 1 {
		t.Fatalf("after PATCH: %s", r.raw)
	}
}
