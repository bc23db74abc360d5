package server_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store/etcdtest"
	"github.com/headwater/headwater/config"
)

// TestM365ThrottleStorm: half of all Graph requests answer 429 with
// Retry-After; every user and password still arrives.
func TestM365ThrottleStorm(t *testing.T) {
	e, toGraph := startGraph(t)
	s := start(t, toGraph)
	want(t, s.admin(t, "POST", "/api/v1/directories", m365Directory(e, "contoso", "push", true)), 201)
	time.Sleep(2100 * time.Millisecond)
	if err := e.ThrottleFraction(0.5, time.Second); err != nil {
		t.Fatal(err)
	}
	var users []map[string]any
	for i := 0; i < 20; i++ {
		users = append(users, map[string]any{"userName": fmt.Sprintf("storm%02d", i), "email": fmt.Sprintf("storm%02d@contoso.example", i),
			"state": "active", "password": fmt.Sprintf("Storm-Pass-%02d-2026", i)})
	}
	want(t, s.admin(t, "POST", "/api/v1/users/import", map[string]any{"users": users}), 200)
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; i < 20; i++ {
		upn := fmt.Sprintf("storm%02d@contoso.example", i)
		for {
			pw, _ := e.PasswordOf("contoso", upn)
			if pw == fmt.Sprintf("Storm-Pass-%02d-2026", i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never arrived with its password (last %q)", upn, pw)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	throttled := 0
	for _, r := range e.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled < 5 {
		t.Fatalf("only %d requests were throttled: the storm did not happen", throttled)
	}
	t.Logf("%d Graph requests answered 429 during the storm", throttled)
}

// TestM365TwoReplicas: two servers on one external etcd both run workers;
// the directory lock lets one deliver at a time, so every user is created
// in M365 exactly once.
func TestM365TwoReplicas(t *testing.T) {
	e, toGraph := startGraph(t)
	ext := etcdtest.StartExternal(t)
	key := filepath.Join(t.TempDir(), "shared.key")
	both := func(c *config.Config) {
		toGraph(c)
		c.Etcd.Endpoints = []string{ext.Endpoint}
		c.Etcd.RequestTimeout = config.Duration(2 * time.Second)
		c.SecretKeyFile = key
	}
	a := start(t, both)
	b := start(t, both)
	want(t, a.admin(t, "POST", "/api/v1/directories", m365Directory(e, "contoso", "push", true)), 201)
	time.Sleep(2100 * time.Millisecond)
	for i := 0; i < 30; i++ {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		want(t, srv.admin(t, "POST", "/api/v1/users", map[string]any{"userName": fmt.Sprintf("rep%02d", i),
			"email": fmt.Sprintf("rep%02d@contoso.example", i), "state": "active", "password": fmt.Sprintf("Replica-%02d-Pass", i)}), 201)
	}
	waitFor(t, "30 users in M365", func() bool { us, _ := e.Users("contoso"); return len(us) >= 32 })
	created := map[string]int{}
	for _, r := range e.Requests() {
		// Every attempt counts, failed ones too: a second replica
		// delivering the same entry would show as a duplicate POST.
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/users") {
			created[r.Path]++
		}
	}
	us, _ := e.Users("contoso")
	n := 0
	for _, u := range us {
		if strings.HasPrefix(u.UserPrincipalName, "rep") {
			n++
		}
	}
	posts := 0
	for _, c := range created {
		posts += c
	}
	if n != 30 || posts != 30 {
		t.Fatalf("%d rep users in M365 after %d create requests; want 30 and 30", n, posts)
	}
}

// TestM365BulkProvisioning: many users due at once go through one listing
// of the tenant and JSON $batch creates, with their passwords.
func TestM365BulkProvisioning(t *testing.T) {
	e, toGraph := startGraph(t)
	s := start(t, toGraph)
	want(t, s.admin(t, "POST", "/api/v1/directories", m365Directory(e, "contoso", "push", true)), 201)
	time.Sleep(2100 * time.Millisecond)
	var users []map[string]any
	for i := 0; i < 120; i++ {
		users = append(users, map[string]any{"userName": fmt.Sprintf("bulk%03d", i), "email": fmt.Sprintf("bulk%03d@contoso.example", i),
			"state": "active", "password": fmt.Sprintf("Bulk-Pass-%03d-2026", i)})
	}
	want(t, s.admin(t, "POST", "/api/v1/users/import", map[string]any{"users": users}), 200)
	waitFor(t, "120 users in M365", func() bool { us, _ := e.Users("contoso"); return len(us) >= 122 })
	for i := 0; i < 120; i += 17 {
		if pw, _ := e.PasswordOf("contoso", fmt.Sprintf("bulk%03d@contoso.example", i)); pw != fmt.Sprintf("Bulk-Pass-%03d-2026", i) {
			t.Fatalf("bulk%03d has password %q", i, pw)
		}
	}
	batches, single := 0, 0
	for _, r := range e.Requests() {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.Path, "/$batch"):
			batches++
		case r.Method == "POST" && strings.HasSuffix(r.Path, "/users") && !r.InBatch:
			single++
		}
	}
	// The import lands while the worker runs, so some users may come due
	// in pages too small for a bulk pass; most must go through $batch.
	if batches < 2 || single > 80 {
		t.Fatalf("%d $batch requests and %d single creates for 120 users: the bulk path was not taken", batches, single)
	}
	waitFor(t, "bindings in sync", func() bool {
		d := s.admin(t, "GET", "/api/v1/directories/contoso", nil)
		b, _ := d.body["bindings"].(map[string]any)
		return b["in_sync"] == 120.0
	})
}
