package graphemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headwater/headwater/internal/graphemu"
)

const (
	tenantA  = "11111111-1111-4111-8111-111111111111"
	tenantB  = "22222222-2222-4222-8222-222222222222"
	clientID = "6731de76-14a6-49ae-97bc-6eba6914391e"
	secret   = "emulator-secret-value"
	goodPW   = "Correct-Horse-9"
)

// fakeClock lets tests move the emulator's time instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// baseConfig has two tenants with the same app registered in both; tenant A also has an
// unverified domain.
func baseConfig() graphemu.Config {
	app := graphemu.App{ClientID: clientID, ClientSecret: secret}
	return graphemu.Config{
		Tenants: []graphemu.TenantConfig{
			{
				ID: tenantA,
				Domains: []graphemu.Domain{
					{Name: "contoso.onmicrosoft.com", Verified: true},
					{Name: "contoso.com", Verified: true, Default: true},
					{Name: "pending.contoso.com", Verified: false},
				},
				Apps: []graphemu.App{app},
			},
			{
				ID:      tenantB,
				Domains: []graphemu.Domain{{Name: "fabrikam.com", Verified: true}},
				Apps:    []graphemu.App{app},
			},
		},
	}
}

func start(t *testing.T, cfg graphemu.Config) *graphemu.Emulator {
	t.Helper()
	emu, err := graphemu.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return emu
}

// startClocked starts the base configuration on a fake clock.
func startClocked(t *testing.T, mod func(*graphemu.Config)) (*graphemu.Emulator, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Now()}
	cfg := baseConfig()
	cfg.Now = clk.Now
	if mod != nil {
		mod(&cfg)
	}
	return start(t, cfg), clk
}

// postForm posts to the token endpoint and decodes the JSON answer.
func postForm(t *testing.T, emu *graphemu.Emulator, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := emu.Client().PostForm(emu.AuthorityURL(tenant)+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

func secretForm() url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
}

// api is a bare net/http Graph client authenticated for one tenant.
type api struct {
	t   *testing.T
	emu *graphemu.Emulator
	tok string
}

func newAPI(t *testing.T, emu *graphemu.Emulator, tenant string) *api {
	t.Helper()
	status, body := postForm(t, emu, tenant, secretForm())
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %v", status, body)
	}
	tok, _ := body["access_token"].(string)
	if tok == "" {
		t.Fatalf("token response without access_token: %v", body)
	}
	return &api{t: t, emu: emu, tok: tok}
}

type result struct {
	status int
	header http.Header
	body   map[string]any
}

// do sends a request; path is relative to /v1.0 or an absolute URL (a nextLink). body is
// JSON-encoded unless it is already []byte.
func (a *api) do(method, path string, body any, hdr map[string]string) result {
	a.t.Helper()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = a.emu.GraphURL() + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	if a.tok != "" {
		req.Header.Set("Authorization", "Bearer "+a.tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := a.emu.Client().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("read body: %v", err)
	}
	r := result{status: resp.StatusCode, header: resp.Header}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			a.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return r
}

func (a *api) get(path string) result { a.t.Helper(); return a.do(http.MethodGet, path, nil, nil) }

func (a *api) post(path string, body any) result {
	a.t.Helper()
	return a.do(http.MethodPost, path, body, nil)
}

func (a *api) patch(path string, body any) result {
	a.t.Helper()
	return a.do(http.MethodPatch, path, body, nil)
}

// createUser creates a user through the API and returns its id.
func (a *api) createUser(upn string) string {
	a.t.Helper()
	r := a.post("/users", newUserBody(upn))
	if r.status != http.StatusCreated {
		a.t.Fatalf("create %s: status %d: %v", upn, r.status, r.body)
	}
	return r.body["id"].(string)
}

func newUserBody(upn string) map[string]any {
	local, _, _ := strings.Cut(upn, "@")
	return map[string]any{
		"accountEnabled":    true,
		"displayName":       "User " + local,
		"mailNickname":      local,
		"userPrincipalName": upn,
		"passwordProfile":   map[string]any{"password": goodPW, "forceChangePasswordNextSignIn": false},
	}
}

// graphError checks a Graph error response: status, error.code, and a message fragment.
func (r result) wantError(t *testing.T, status int, code, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %v)", r.status, status, r.body)
	}
	e, ok := r.body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %v", r.body)
	}
	if e["code"] != code {
		t.Errorf("error.code %v, want %q", e["code"], code)
	}
	if m, _ := e["message"].(string); !strings.Contains(m, msg) {
		t.Errorf("error.message %q does not contain %q", m, msg)
	}
	inner, ok := e["innerError"].(map[string]any)
	if !ok || inner["request-id"] == "" || inner["date"] == "" {
		t.Errorf("innerError missing request-id or date: %v", e["innerError"])
	}
	if inner["request-id"] != r.header.Get("request-id") {
		t.Errorf("innerError request-id %v differs from header %q", inner["request-id"], r.header.Get("request-id"))
	}
}

// values returns a collection response's value array.
func (r result) values(t *testing.T) []map[string]any {
	t.Helper()
	raw, ok := r.body["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %v", r.body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func seedUsers(t *testing.T, emu *graphemu.Emulator, tenant, domain string, n int) []graphemu.User {
	t.Helper()
	out := make([]graphemu.User, 0, n)
	for i := range n {
		u, err := emu.AddUser(tenant, graphemu.NewUser{
			UserPrincipalName: fmt.Sprintf("user%03d@%s", i, domain),
			Mail:              fmt.Sprintf("user%03d@%s", i, domain),
			AccountEnabled:    i%2 == 0,
		})
		if err != nil {
			t.Fatalf("AddUser: %v", err)
		}
		out = append(out, u)
	}
	return out
}
