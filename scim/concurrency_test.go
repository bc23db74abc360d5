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
