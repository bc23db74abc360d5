package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

const adminToken = "test-admin-token-0123456789"

type running struct {
	url       string
	readyFile string
	cancel    context.CancelFunc
	done      chan error
}

// start runs a real server on loopback port 0 and waits for its ready file.
func start(t *testing.T, mutate func(*config.Config)) *running {
	t.Helper()
	cfg := config.Default()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LDAPAddr = "127.0.0.1:0"
	cfg.DataDir = shortDir(t)
	cfg.AdminToken = adminToken
	if mutate != nil {
		mutate(&cfg)
	}
	ready := filepath.Join(t.TempDir(), "ready.json")
	opts := server.Options{ReadyFile: ready}
	if os.Getenv("HEADWATER_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), readyFile: ready}
	go func() { r.done <- srv.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(ready); err == nil {
			var addrs map[string]string
			if err := json.Unmarshal(data, &addrs); err != nil {
				t.Fatalf("ready file %q: %v", data, err)
			}
			r.url = "http://" + addrs["http_addr"]
			break
		}
		select {
		case err := <-r.done:
			t.Fatalf("server stopped before ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server not ready within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("server did not shut down within 30s")
	}
}

func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "hw-srv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r *running) do(t *testing.T, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (r *running) admin(t *testing.T, method, path string, body any, headers ...string) response {
	t.Helper()
	return r.do(t, method, path, adminToken, body, headers...)
}

func want(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
}

func errField(r response, key string) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e[key].(string)
	return s
}

func TestUsersAPI(t *testing.T) {
	s := start(t, nil)
	r := s.admin(t, "POST", "/api/v1/users", map[string]any{
		"userName": "jdoe", "givenName": "John", "familyName": "Doe", "email": "jdoe@example.com", "password": "Sup3r-Secret!",
	})
	want(t, r, http.StatusCreated)
	id, _ := r.body["id"].(string)
	if id == "" || r.body["hasPassword"] != true || strings.Contains(r.raw, "Sup3r") || strings.Contains(r.raw, "argon2") {
		t.Fatalf("created user: %s", r.raw)
	}
	if r.header.Get("Location") != "/api/v1/users/"+id {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}

	r = s.admin(t, "GET", "/api/v1/users/"+id, nil)
	want(t, r, http.StatusOK)
	etag := r.header.Get("ETag")
	if r.body["email"] != "jdoe@example.com" || etag == "" {
		t.Fatalf("get: %s (etag %q)", r.raw, etag)
	}
	r = s.admin(t, "GET", "/api/v1/users?userName=JDOE", nil)
	want(t, r, http.StatusOK)
	if items, _ := r.body["items"].([]any); len(items) != 1 {
		t.Fatalf("lookup by userName: %s", r.raw)
	}
	r = s.admin(t, "GET", "/api/v1/users?userName=nobody", nil)
	want(t, r, http.StatusOK)
	if items, _ := r.body["items"].([]any); len(items) != 0 {
		t.Fatalf("lookup of a missing user: %s", r.raw)
	}

	r = s.admin(t, "PATCH", "/api/v1/users/"+id, map[string]any{"title": "CTO"}, "If-Match", etag)
	want(t, r, http.StatusOK)
	if r.body["title"] != "CTO" {
		t.Fatal(r.raw)
	}
	r = s.admin(t, "PATCH", "/api/v1/users/"+id, map[string]any{"title": "CEO"}, "If-Match", etag)
	want(t, r, http.StatusPreconditionFailed)
	if errField(r, "code") != "precondition_failed" {
		t.Fatal(r.raw)
	}

	r = s.admin(t, "POST", "/api/v1/users/"+id+"/password", map[string]any{"password": "short"})
	want(t, r, http.StatusBadRequest)
	if errField(r, "code") != "password_policy" || !strings.Contains(errField(r, "message"), "at least 10 characters") {
		t.Fatalf("policy error: %s", r.raw)
	}
	r = s.admin(t, "POST", "/api/v1/users/"+id+"/password", map[string]any{"password": "Another-Secret-9"})
	want(t, r, http.StatusNoContent)

	r = s.admin(t, "POST", "/api/v1/users/"+id+"/suspend", nil)
	want(t, r, http.StatusOK)
	if r.body["state"] != "suspended" {
		t.Fatal(r.raw)
	}
	r = s.admin(t, "POST", "/api/v1/users/"+id+"/activate", nil)
	want(t, r, http.StatusOK)
	if r.body["state"] != "active" {
		t.Fatal(r.raw)
	}

	r = s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "JDoe"})
	want(t, r, http.StatusConflict)
	if errField(r, "field") != "userName" {
		t.Fatalf("conflict: %s", r.raw)
	}
	r = s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "weak", "password": "password"})
	want(t, r, http.StatusBadRequest)

	r = s.admin(t, "GET", "/api/v1/users?limit=1", nil)
	want(t, r, http.StatusOK)
	if r.body["total"].(float64) != 2 || r.body["next"] == nil {
		t.Fatalf("paged list: %s", r.raw)
	}

	r = s.admin(t, "DELETE", "/api/v1/users/"+id, nil)
	want(t, r, http.StatusNoContent)
	r = s.admin(t, "GET", "/api/v1/users/"+id, nil)
	want(t, r, http.StatusNotFound)
	if errField(r, "code") != "not_found" {
		t.Fatal(r.raw)
	}

	r = s.admin(t, "GET", "/api/v1/audit?limit=3", nil)
	want(t, r, http.StatusOK)
	items, _ := r.body["items"].([]any)
	if len(items) != 3 || items[0].(map[string]any)["action"] != "user.delete" || items[0].(map[string]any)["source"] != "127.0.0.1" {
		t.Fatalf("audit: %s", r.raw)
	}
}

func TestAPIErrors(t *testing.T) {
	s := start(t, nil)
	r := s.do(t, "GET", "/api/v1/users", "", nil)
	want(t, r, http.StatusUnauthorized)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") || errField(r, "code") != "unauthorized" {
		t.Fatalf("no token: %v %s", r.header, r.raw)
	}
	want(t, s.do(t, "GET", "/api/v1/users", "wrong", nil), http.StatusUnauthorized)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"unknown field", "POST", "/api/v1/users", `{"userName":"a","colour":"red"}`, 400, "invalid", "colour"},
		{"wrong type", "POST", "/api/v1/users", `{"userName":42}`, 400, "invalid", "userName"},
		{"malformed", "POST", "/api/v1/users", `{"userName":`, 400, "bad_request", ""},
		{"empty body", "POST", "/api/v1/users", ``, 400, "bad_request", ""},
		{"two values", "POST", "/api/v1/users", `{"userName":"a"}{}`, 400, "bad_request", ""},
		{"invalid email", "POST", "/api/v1/users", `{"userName":"a","email":"nope"}`, 400, "invalid", "emails[0].value"},
		{"bad limit", "GET", "/api/v1/users?limit=-1", nil, 400, "invalid", "limit"},
		{"bad If-Match", "PATCH", "/api/v1/users/x", `{}`, 400, "invalid", "If-Match"},
		{"unknown user", "GET", "/api/v1/users/nope", nil, 404, "not_found", ""},
		{"no endpoint", "GET", "/api/v1/nothing", nil, 404, "not_found", ""},
		{"password via patch", "PATCH", "/api/v1/users/x", `{"password":"Abcdef-12345"}`, 400, "invalid", "password"},
		{"huge body", "POST", "/api/v1/users", `{"userName":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.name == "bad If-Match" {
				hdr = []string{"If-Match", "yesterday"}
			}
			r := s.admin(t, tc.method, tc.path, tc.body, hdr...)
			want(t, r, tc.status)
			if errField(r, "code") != tc.code || errField(r, "field") != tc.field || errField(r, "message") == "" {
				t.Fatalf("error body %s, want code %q field %q", r.raw, tc.code, tc.field)
			}
		})
	}
}

func TestTokensAndGroupsAPI(t *testing.T) {
	s := start(t, nil)
	r := s.admin(t, "POST", "/api/v1/tokens", map[string]any{"name": "automation", "scopes": []string{"admin"}})
	want(t, r, http.StatusCreated)
	secret, _ := r.body["token"].(string)
	tokID, _ := r.body["id"].(string)
	r = s.admin(t, "POST", "/api/v1/tokens", map[string]any{"name": "okta", "scopes": []string{"scim"}})
	want(t, r, http.StatusCreated)
	scimOnly, _ := r.body["token"].(string)
	want(t, s.do(t, "GET", "/api/v1/users", scimOnly, nil), http.StatusForbidden)

	// The new admin token works like the bootstrap one.
	r = s.do(t, "POST", "/api/v1/users", secret, map[string]any{"userName": "ann", "email": "ann@example.com"})
	want(t, r, http.StatusCreated)
	ann, _ := r.body["id"].(string)
	r = s.do(t, "POST", "/api/v1/users", secret, map[string]any{"userName": "bob"})
	bob, _ := r.body["id"].(string)

	r = s.admin(t, "POST", "/api/v1/groups", map[string]any{"displayName": "Engineering", "members": []string{ann}})
	want(t, r, http.StatusCreated)
	gid, _ := r.body["id"].(string)
	if r.body["memberCount"].(float64) != 1 {
		t.Fatal(r.raw)
	}
	want(t, s.admin(t, "POST", "/api/v1/groups/"+gid+"/members", map[string]any{"userIds": []string{bob}}), http.StatusNoContent)
	r = s.admin(t, "POST", "/api/v1/groups/"+gid+"/members", map[string]any{"userId": "ghost"})
	want(t, r, http.StatusNotFound)
	r = s.admin(t, "GET", "/api/v1/groups/"+gid+"/members", nil)
	want(t, r, http.StatusOK)
	if r.body["total"].(float64) != 2 {
		t.Fatal(r.raw)
	}
	r = s.admin(t, "GET", "/api/v1/users/"+ann+"/groups", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 {
		t.Fatalf("user groups: %s", r.raw)
	}
	want(t, s.admin(t, "DELETE", "/api/v1/groups/"+gid+"/members/"+ann, nil), http.StatusNoContent)
	r = s.admin(t, "POST", "/api/v1/groups", map[string]any{"displayName": "engineering"})
	want(t, r, http.StatusConflict)

	r = s.admin(t, "POST", "/api/v1/service-accounts", map[string]any{"name": "grafana", "password": "Grafana-Bind-1", "roles": []string{"ldap-reader"}})
	want(t, r, http.StatusCreated)
	r = s.admin(t, "POST", "/api/v1/service-accounts", map[string]any{"name": "weak", "password": "x"})
	want(t, r, http.StatusBadRequest)

	r = s.admin(t, "GET", "/api/v1/tokens", nil)
	if strings.Contains(r.raw, secret) || strings.Contains(r.raw, "digest") {
		t.Fatal("token list leaks secrets or digests")
	}
	want(t, s.admin(t, "DELETE", "/api/v1/tokens/"+tokID, nil), http.StatusNoContent)
	want(t, s.do(t, "GET", "/api/v1/users", secret, nil), http.StatusUnauthorized)
}

func TestProbesAndMetrics(t *testing.T) {
	s := start(t, nil)
	r := s.do(t, "GET", "/healthz", "", nil)
	want(t, r, http.StatusOK)
	r = s.do(t, "GET", "/readyz", "", nil)
	want(t, r, http.StatusOK)
	if r.body["index"] != "loaded" || r.body["store"] != "ok" {
		t.Fatal(r.raw)
	}
	s.admin(t, "GET", "/api/v1/users", nil)
	r = s.do(t, "GET", "/metrics", "", nil)
	want(t, r, http.StatusOK)
	for _, m := range []string{"headwater_users 1", "headwater_index_ready 1", `headwater_http_requests_total{area="api",code="200"}`, "go_goroutines"} {
		if !strings.Contains(r.raw, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

// TestRestartKeepsData stops the server cleanly and starts it again on the
// same data directory.
func TestRestartKeepsData(t *testing.T) {
	dir := shortDir(t)
	s := start(t, func(c *config.Config) { c.DataDir = dir; c.AdminPassword = "Admin-Pass-2026" })
	for i := 0; i < 20; i++ {
		want(t, s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": fmt.Sprintf("u%02d", i)}), http.StatusCreated)
	}
	s.stop(t)
	s = start(t, func(c *config.Config) { c.DataDir = dir; c.AdminPassword = "Other-Pass-2027" })
	r := s.admin(t, "GET", "/api/v1/users", nil)
	if r.body["total"].(float64) != 21 {
		t.Fatalf("after restart: %s", r.raw)
	}
	if info, err := os.Stat(filepath.Join(dir, "secret.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", info, err)
	}
}

func TestInvalidConfig(t *testing.T) {
	cfg := config.Default()
	cfg.AdminPassword = "admin"
	_, err := server.New(cfg, server.Options{})
	var ce *server.ConfigError
	if err == nil || !strings.Contains(err.Error(), "adminPassword") {
		t.Fatalf("weak admin password: %v", err)
	}
	if !asConfigError(err, &ce) {
		t.Fatal("not a ConfigError")
	}
	cfg = config.Default()
	cfg.HTTPAddr = "nonsense"
	if _, err := server.New(cfg, server.Options{}); err == nil || !strings.Contains(err.Error(), "httpAddr") {
		t.Fatalf("bad httpAddr: %v", err)
	}
}

// TestBootstrapToken: a first start with neither admin token nor admin
// password writes an admin token to a 0600 file, and it works.
func TestBootstrapToken(t *testing.T) {
	dir := shortDir(t)
	s := start(t, func(c *config.Config) { c.DataDir = dir; c.AdminToken = "" })
	path := filepath.Join(dir, "bootstrap-token")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap token file: %v %v", info, err)
	}
	data, _ := os.ReadFile(path)
	tok := strings.TrimSpace(string(data))
	want(t, s.do(t, "GET", "/api/v1/users", tok, nil), http.StatusOK)
	s.stop(t)
	// Not written again on later starts.
	os.Remove(path)
	start(t, func(c *config.Config) { c.DataDir = dir; c.AdminToken = "" })
	if _, err := os.Stat(path); err == nil {
		t.Fatal("bootstrap token written on a later start")
	}
}

// TestLDAPListener: the ready file names the LDAP address, and a user
// created through the admin API binds there.
func TestLDAPListener(t *testing.T) {
	s := start(t, func(c *config.Config) { c.AdminPassword = "Admin-Pass-2026" })
	data, err := os.ReadFile(s.readyFile)
	if err != nil {
		t.Fatal(err)
	}
	var addrs map[string]string
	json.Unmarshal(data, &addrs)
	if addrs["ldap_addr"] == "" {
		t.Fatalf("ready file without ldap_addr: %s", data)
	}
	c, err := ldap.DialURL("ldap://" + addrs["ldap_addr"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("uid=admin,ou=people,dc=example,dc=com", "Admin-Pass-2026"); err != nil {
		t.Fatalf("LDAP bind as admin: %v", err)
	}
	if err := c.Bind("admin", "wrong-password"); err == nil {
		t.Fatal("a wrong password bound")
	}
}
