package graphemu_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

type step = map[string]any

func batchResponses(t *testing.T, r result) map[string]map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("batch status %d: %v", r.status, r.body)
	}
	raw, ok := r.body["responses"].([]any)
	if !ok {
		t.Fatalf("no responses array: %v", r.body)
	}
	out := map[string]map[string]any{}
	for _, x := range raw {
		m := x.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

func TestBatchTwentySteps(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	existing := a.createUser("existing@contoso.com")
	doomed := a.createUser("doomed@contoso.com")

	var steps []step
	for i := range 16 {
		upn := fmt.Sprintf("batch%02d@contoso.com", i)
		steps = append(steps, step{"id": fmt.Sprint(i + 1), "method": "POST", "url": "/users",
			"headers": map[string]string{"Content-Type": "application/json"}, "body": newUserBody(upn)})
	}
	steps = append(steps,
		step{"id": "17", "method": "GET", "url": "/users/" + existing + "?$select=id,accountEnabled"},
		step{"id": "18", "method": "PATCH", "url": "/users/" + existing,
			"headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"accountEnabled": false}},
		step{"id": "19", "method": "DELETE", "url": "/users/" + doomed},
		step{"id": "20", "method": "GET", "url": "users/nobody@contoso.com"}, // no leading slash, as in Graph's own example
	)
	resps := batchResponses(t, a.post("/$batch", map[string]any{"requests": steps}))
	if len(resps) != 20 {
		t.Fatalf("%d responses, want 20", len(resps))
	}
	for i := 1; i <= 16; i++ {
		r := resps[fmt.Sprint(i)]
		body, _ := r["body"].(map[string]any)
		if r["status"] != float64(201) || body["userPrincipalName"] != fmt.Sprintf("batch%02d@contoso.com", i-1) {
			t.Errorf("step %d: %v", i, r)
		}
	}
	if b, _ := resps["17"]["body"].(map[string]any); resps["17"]["status"] != float64(200) || b["accountEnabled"] != true {
		t.Errorf("step 17: %v", resps["17"])
	}
	if resps["18"]["status"] != float64(204) || resps["19"]["status"] != float64(204) {
		t.Errorf("steps 18, 19: %v %v", resps["18"], resps["19"])
	}
	body20, _ := resps["20"]["body"].(map[string]any)
	if e, _ := body20["error"].(map[string]any); resps["20"]["status"] != float64(404) || e["code"] != "Request_ResourceNotFound" {
		t.Errorf("step 20: %v", resps["20"])
	}
	if u, _ := emu.User(tenantA, existing); u.AccountEnabled {
		t.Error("PATCH in batch not applied")
	}
	if users, _ := emu.Users(tenantA); len(users) != 17 {
		t.Errorf("%d users after batch, want 17", len(users))
	}
	if n := emu.RequestCount("POST", "/v1.0/users"); n != 18 {
		t.Errorf("RequestCount(POST /v1.0/users) = %d, want 18 (2 direct + 16 batched)", n)
	}
	if n := emu.RequestCount("POST", "/v1.0/$batch"); n != 1 {
		t.Errorf("RequestCount($batch) = %d", n)
	}
}

func TestBatchRejectsMalformed(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	many := make([]step, 21)
	for i := range many {
		many[i] = step{"id": fmt.Sprint(i), "method": "GET", "url": "/users"}
	}
	tests := []struct {
		name string
		body any
		msg  string
	}{
		{"21 requests", map[string]any{"requests": many}, "exceeds the maximum of 20"},
		{"no requests", map[string]any{"requests": []step{}}, "at least one request"},
		{"duplicate ids", map[string]any{"requests": []step{
			{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}}}, "more than once"},
		{"unknown dependency", map[string]any{"requests": []step{
			{"id": "1", "method": "GET", "url": "/users", "dependsOn": []string{"9"}}}}, "unknown request"},
		{"cycle", map[string]any{"requests": []step{
			{"id": "1", "method": "GET", "url": "/users", "dependsOn": []string{"2"}},
			{"id": "2", "method": "GET", "url": "/users", "dependsOn": []string{"1"}}}}, "cycle"},
		{"not JSON", []byte("requests"), "Invalid batch payload format."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.post("/$batch", tc.body).wantError(t, 400, "BadRequest", tc.msg)
		})
	}
	if n := emu.RequestCount("GET", "/v1.0/users"); n != 0 {
		t.Errorf("a rejected batch ran %d steps", n)
	}
}

func TestBatchDependsOn(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	json := map[string]string{"Content-Type": "application/json"}
	resps := batchResponses(t, a.post("/$batch", map[string]any{"requests": []step{
		// Listed out of order on purpose: 2 must run after 1.
		{"id": "2", "method": "PATCH", "url": "/users/chain@contoso.com", "dependsOn": []string{"1"},
			"headers": json, "body": map[string]any{"jobTitle": "Chained"}},
		{"id": "1", "method": "POST", "url": "/users", "headers": json, "body": newUserBody("chain@contoso.com")},
		{"id": "3", "method": "POST", "url": "/users", "dependsOn": []string{"2"}, "headers": json,
			"body": map[string]any{"displayName": "incomplete"}},
		{"id": "4", "method": "GET", "url": "/users/chain@contoso.com", "dependsOn": []string{"3"}},
		{"id": "5", "method": "POST", "url": "/users", "body": newUserBody("noheader@contoso.com")},
	}}))
	want := map[string]float64{"1": 201, "2": 204, "3": 400, "4": 424, "5": 400}
	for id, st := range want {
		if resps[id]["status"] != st {
			t.Errorf("step %s: status %v, want %v (%v)", id, resps[id]["status"], st, resps[id]["body"])
		}
	}
	if u, err := emu.User(tenantA, "chain@contoso.com"); err != nil {
		t.Errorf("chained user: %v", err)
	} else if r := a.get("/users/" + u.ID + "?$select=jobTitle"); r.body["jobTitle"] != "Chained" {
		t.Errorf("dependent PATCH: %v", r.body)
	}
	if _, err := emu.User(tenantA, "noheader@contoso.com"); err == nil {
		t.Error("a step with a body but no Content-Type ran")
	}
}

func TestBatchStepsAreThrottledOneByOne(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	emu.ThrottleNext(2, 3*time.Second)
	resps := batchResponses(t, a.post("/$batch", map[string]any{"requests": []step{
		{"id": "1", "method": "GET", "url": "/users"},
		{"id": "2", "method": "GET", "url": "/domains"},
		{"id": "3", "method": "GET", "url": "/users?$top=1"},
	}}))
	throttled := 0
	for _, id := range []string{"1", "2", "3"} {
		r := resps[id]
		if r["status"] != float64(http.StatusTooManyRequests) {
			continue
		}
		throttled++
		h, _ := r["headers"].(map[string]any)
		if h["Retry-After"] != "3" {
			t.Errorf("step %s: Retry-After %v, want \"3\" (headers %v)", id, h["Retry-After"], h)
		}
		body, _ := r["body"].(map[string]any)
		if e, _ := body["error"].(map[string]any); e["code"] != "TooManyRequests" {
			t.Errorf("step %s: body %v", id, body)
		}
	}
	if throttled != 2 || resps["3"]["status"] != float64(200) {
		t.Errorf("%d steps throttled, step 3 status %v; want the first two throttled", throttled, resps["3"]["status"])
	}
	inBatch := 0
	for _, rec := range emu.Requests() {
		if rec.InBatch {
			inBatch++
		}
	}
	if inBatch != 3 {
		t.Errorf("%d batch steps recorded, want 3", inBatch)
	}
}
