package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/internal/graphemu"
)

const (
	emuClientID = "11111111-2222-3333-4444-555555555555"
	emuSecret   = "emulator-client-secret"
)

// startGraph runs the Graph emulator with tenant contoso (contoso.example
// verified) and returns it with a config mutator that points a server's
// connectors at it.
func startGraph(t *testing.T) (*graphemu.Emulator, func(*config.Config)) {
	t.Helper()
	e, err := graphemu.Start(context.Background(), graphemu.Config{Tenants: []graphemu.TenantConfig{{
		ID:      "contoso",
		Domains: []graphemu.Domain{{Name: "contoso.example", Verified: true, Default: true}, {Name: "unverified.example"}},
		Apps:    []graphemu.App{{ClientID: emuClientID, ClientSecret: emuSecret}},
		Users:   []graphemu.NewUser{{UserPrincipalName: "carol@contoso.example", Mail: "carol@contoso.example", DisplayName: "Carol", MailNickname: "carol", AccountEnabled: true, Password: "Carol-Before-2025"}, {UserPrincipalName: "dave@contoso.example", DisplayName: "Dave", MailNickname: "dave", AccountEnabled: true, Password: "Dave-Before-2025"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ca := filepath.Join(t.TempDir(), "graph-ca.pem")
	if err := os.WriteFile(ca, e.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return e, func(c *config.Config) {
		c.Connectors.CAFile = ca
		c.Connectors.FeedEvery = config.Duration(300 * time.Millisecond)
	}
}

// m365Directory is a directory in CONTRACT.md's shape: one tenant given
// flat, the client secret among the settings (sealed when stored).
func m365Directory(e *graphemu.Emulator, name, mode string, allUsers bool) map[string]any {
	return map[string]any{
		"name": name, "kind": "m365", "mode": mode, "allUsers": allUsers,
		"settings": map[string]any{"tenantId": "contoso", "clientId": emuClientID, "clientSecret": emuSecret,
			"authorityURL": e.URL(), "graphURL": e.GraphURL()},
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestM365EndToEnd: the server, its connector workers and the Graph
// emulator. A SCIM-created user appears in M365 with their password; a
// password change and a name change arrive; suspending blocks sign-in; a
// re-enable done in M365 is reverted in push mode and reported in report
// mode; import matches by email and lists the rest.
func TestM365EndToEnd(t *testing.T) {
	e, toGraph := startGraph(t)
	s := start(t, toGraph)
	r := s.admin(t, "POST", "/api/v1/directories", m365Directory(e, "contoso", "push", true))
	want(t, r, 201)
	tr := s.admin(t, "POST", "/api/v1/directories/contoso/test", nil)
	if tr.body["ok"] != true {
		t.Fatalf("directory test: %s", tr.raw)
	}
	time.Sleep(2100 * time.Millisecond) // new users are bound to allUsers directories once the 2 s cache sees it

	// SCIM create with a password.
	r = s.admin(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"erin","password":"Erin-From-HR-2026",
		"name":{"givenName":"Erin","familyName":"Ng"},"emails":[{"value":"erin@contoso.example","primary":true}],"active":true}`, "Content-Type", "application/scim+json")
	want(t, r, 201)
	uid := r.body["id"].(string)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bindings: %s", s.admin(t, "GET", "/api/v1/directories/contoso/bindings", nil).raw)
			t.Logf("outbox: %s", s.admin(t, "GET", "/api/v1/directories/contoso/outbox", nil).raw)
			t.Logf("directory: %s", s.admin(t, "GET", "/api/v1/directories/contoso", nil).raw)
		}
	})
	waitFor(t, "erin in M365 with her password", func() bool {
		pw, err := e.PasswordOf("contoso", "erin@contoso.example")
		return err == nil && pw == "Erin-From-HR-2026"
	})
	u, _ := e.User("contoso", "erin@contoso.example")
	if !u.AccountEnabled || u.GivenName != "Erin" || u.Surname != "Ng" || u.DisplayName != "Erin Ng" {
		t.Fatalf("M365 user: %+v", u)
	}

	// Erin changes her password on the portal; the status panel's JSON
	// follows it to "delivered". Then a name change over SCIM.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	body := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := csrf.FindStringSubmatch(body(c.Get(s.url + "/login")))
	home := body(c.PostForm(s.url+"/login", url.Values{"username": {"erin"}, "password": {"Erin-From-HR-2026"}, "csrf": {m[1]}, "next": {"/"}}))
	m = csrf.FindStringSubmatch(home)
	if m == nil {
		t.Fatalf("portal home: %s", home)
	}
	done := body(c.PostForm(s.url+"/password", url.Values{"csrf": {m[1]}, "current": {"Erin-From-HR-2026"}, "new": {"Erin-Changed-2027"}, "confirm": {"Erin-Changed-2027"}}))
	if !strings.Contains(done, "Your password was changed") {
		t.Fatalf("portal password change: %s", done)
	}
	waitFor(t, "new password in M365", func() bool {
		pw, _ := e.PasswordOf("contoso", "erin@contoso.example")
		return pw == "Erin-Changed-2027"
	})
	waitFor(t, "status panel says delivered", func() bool {
		st := body(c.Get(s.url + "/status.json"))
		return strings.Contains(st, `"directory":"contoso"`) && strings.Contains(st, `"state":"delivered"`)
	})
	want(t, s.admin(t, "PATCH", "/scim/v2/Users/"+uid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name.familyName","value":"Ng-Smith"}]}`, "Content-Type", "application/scim+json"), 200)
	waitFor(t, "surname in M365", func() bool { u, _ := e.User("contoso", "erin@contoso.example"); return u.Surname == "Ng-Smith" })

	// Suspend blocks sign-in; a re-enable in M365 is reverted.
	want(t, s.admin(t, "POST", "/api/v1/users/"+uid+"/suspend", nil), 200)
	waitFor(t, "blocked", func() bool { u, _ := e.User("contoso", "erin@contoso.example"); return !u.AccountEnabled })
	if err := e.SetAccountEnabled("contoso", "erin@contoso.example", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "re-enable reverted", func() bool { u, _ := e.User("contoso", "erin@contoso.example"); return !u.AccountEnabled })

	// Report mode: the same drift is only recorded.
	d := m365Directory(e, "contoso", "report", true)
	want(t, s.admin(t, "POST", "/api/v1/directories", d), 200)
	time.Sleep(300 * time.Millisecond)
	e.SetAccountEnabled("contoso", "erin@contoso.example", true)
	waitFor(t, "mismatch recorded", func() bool {
		b := s.admin(t, "GET", "/api/v1/users/"+uid+"/bindings", nil)
		return strings.Contains(b.raw, `"status": "mismatch"`) && strings.Contains(b.raw, "enabled")
	})
	if u, _ := e.User("contoso", "erin@contoso.example"); !u.AccountEnabled {
		t.Fatal("report mode wrote to M365")
	}

	// Import into a second directory over the same tenant (report mode,
	// nobody bound yet): carol and erin match by email, dave matches
	// nobody and is listed.
	want(t, s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "carol", "email": "Carol@Contoso.example", "state": "active"}), 201)
	want(t, s.admin(t, "POST", "/api/v1/directories", m365Directory(e, "contoso-audit", "report", false)), 201)
	imp := s.admin(t, "POST", "/api/v1/directories/contoso-audit/import", map[string]any{"dryRun": false})
	want(t, imp, 200)
	var res struct {
		Result struct {
			Matched, AlreadyBound int
			Unmatched             []struct{ Login string }
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(imp.raw), &res.Result); err != nil {
		t.Fatalf("import answer: %s", imp.raw)
	}
	if res.Result.Matched != 2 || len(res.Result.Unmatched) != 1 || res.Result.Unmatched[0].Login != "dave@contoso.example" {
		t.Fatalf("import: %s", imp.raw)
	}
	// An unverified domain is reported, not provisioned.
	want(t, s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "olaf", "email": "olaf@unverified.example", "state": "active", "password": "Olaf-Pass-2026"}), 201)
	d = m365Directory(e, "contoso", "push", true)
	want(t, s.admin(t, "POST", "/api/v1/directories", d), 200)
	waitFor(t, "olaf refused", func() bool {
		l := s.admin(t, "GET", "/api/v1/directories/contoso/bindings", nil)
		return strings.Contains(l.raw, "unverified.example") && strings.Contains(l.raw, `"status": "error"`)
	})
	if _, err := e.User("contoso", "olaf@unverified.example"); err == nil {
		t.Fatal("a user outside the verified domains was provisioned")
	}
	// The plan of a pass: nothing left to do for erin (in sync).
	plan := s.admin(t, "GET", "/api/v1/directories/contoso/plan", nil)
	want(t, plan, http.StatusOK)
}
