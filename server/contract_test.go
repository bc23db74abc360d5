package server_test

import (
	"strings"
	"testing"
)

// TestContractDirectoriesAndBindings: the shapes CONTRACT.md gives for
// directories (credentials among the settings, sealed and never returned)
// and POST/DELETE /api/v1/bindings with a user or a group.
func TestContractDirectoriesAndBindings(t *testing.T) {
	s := start(t, nil)
	r := s.admin(t, "POST", "/api/v1/directories", map[string]any{"name": "corp", "kind": "ad", "mode": "report",
		"settings": map[string]any{"url": "ldaps://dc.example.com:636", "bindDN": "CN=svc,DC=example,DC=com", "bindPassword": "Svc-Secret-1",
			"baseDN": "DC=example,DC=com", "userOU": "OU=Staff,DC=example,DC=com"}})
	want(t, r, 201)
	if r.body["hasSecrets"] != true || strings.Contains(r.raw, "Svc-Secret-1") {
		t.Fatalf("ad credentials: %s", r.raw)
	}
	r = s.admin(t, "POST", "/api/v1/directories", map[string]any{"name": "tenant", "kind": "m365",
		"settings": map[string]any{"tenantId": "contoso.example", "clientId": "app", "clientSecret": "App-Secret-1"}})
	want(t, r, 201)
	if r.body["hasSecrets"] != true || strings.Contains(r.raw, "App-Secret-1") || !strings.Contains(r.raw, `"tenants"`) {
		t.Fatalf("m365 credentials: %s", r.raw)
	}
	if g := s.admin(t, "GET", "/api/v1/directories/corp", nil); g.body["health"] != "ok" {
		t.Fatalf("health: %s", g.raw)
	}

	u := s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "bea", "email": "bea@example.com"})
	want(t, u, 201)
	uid := u.body["id"].(string)
	want(t, s.admin(t, "POST", "/api/v1/bindings", map[string]any{"userId": uid, "directory": "corp"}), 201)
	b := s.admin(t, "GET", "/api/v1/users/"+uid+"/bindings", nil)
	if !strings.Contains(b.raw, `"directory": "corp"`) || !strings.Contains(b.raw, `"status": "pending"`) {
		t.Fatalf("bindings: %s", b.raw)
	}
	want(t, s.admin(t, "DELETE", "/api/v1/bindings", map[string]any{"userId": uid, "directory": "corp"}), 202)
	g := s.admin(t, "POST", "/api/v1/groups", map[string]any{"displayName": "staff"})
	want(t, g, 201)
	gid := g.body["id"].(string)
	want(t, s.admin(t, "POST", "/api/v1/bindings", map[string]any{"groupId": gid, "directory": "corp"}), 201)
	if d := s.admin(t, "GET", "/api/v1/directories/corp", nil); !strings.Contains(d.raw, gid) {
		t.Fatalf("group not bound: %s", d.raw)
	}
	want(t, s.admin(t, "DELETE", "/api/v1/bindings", map[string]any{"groupId": gid, "directory": "corp"}), 202)
	if d := s.admin(t, "GET", "/api/v1/directories/corp", nil); strings.Contains(d.raw, gid) {
		t.Fatalf("group still bound: %s", d.raw)
	}
	if r := s.admin(t, "POST", "/api/v1/bindings", map[string]any{"userId": uid, "directory": "nowhere"}); r.status != 400 {
		t.Fatalf("missing directory: %d %s", r.status, r.raw)
	}
}
