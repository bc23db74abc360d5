package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/headwater/headwater/internal/browsertest"
)

// TestPortalInChromium: change password (policy error shown, then
// success, then the status panel listing the bound directories), profile
// edit, activation link, a forced password change, signing a browser out.
func TestPortalInChromium(t *testing.T) {
	s, _, uid := samlSetup(t)
	// Two directories whose targets never answer (machines that never
	// enrolled): the changes stay pending, which the panel shows.
	for _, d := range []string{"m365-contoso", "ad-corp"} {
		want(t, s.admin(t, "POST", "/api/v1/directories", map[string]any{"name": d, "kind": "local"}), 201)
		want(t, s.admin(t, "POST", "/api/v1/users/"+uid+"/bindings", map[string]any{"directory": d}), 201)
	}
	if r := s.admin(t, "POST", "/api/v1/users/"+uid+"/bindings", map[string]any{"directory": "nowhere"}); r.status != 400 || errField(r, "field") != "directory" {
		t.Fatalf("binding to a missing directory: %d %s", r.status, r.raw)
	}
	b := browsertest.NewBrowser(t)
	browsertest.Navigate(t, b, s.url+"/")
	browsertest.WaitURLPrefix(t, b, s.url+"/login")
	login(t, b, "alice", "Rabbit-Hole-2026")
	browsertest.WaitURLPrefix(t, b, s.url+"/")
	txt := browsertest.WaitText(t, b, "Where your changes are")
	// Bound, but no password has reached them yet: the sign-in just now
	// queued it ("password takeover").
	if !strings.Contains(txt, "m365-contoso") || !strings.Contains(txt, "pending") {
		t.Fatalf("status panel before the change: %s", txt)
	}
	browsertest.Screenshot(t, b, "home")

	// A password the policy refuses: every failed rule is explained.
	browsertest.Fill(t, b, "current", "Rabbit-Hole-2026")
	browsertest.Fill(t, b, "new", "alice")
	browsertest.Fill(t, b, "confirm", "alice")
	browsertest.Submit(t, b, "new")
	txt = browsertest.WaitText(t, b, "Your new password")
	for _, rule := range []string{"at least 10 characters", "must not be the same as your username"} {
		if !strings.Contains(txt, rule) {
			t.Errorf("policy error lacks %q: %s", rule, txt)
		}
	}
	browsertest.Screenshot(t, b, "password-policy-error")

	// Then a good one.
	browsertest.Fill(t, b, "current", "Rabbit-Hole-2026")
	browsertest.Fill(t, b, "new", "Looking-Glass-2027")
	browsertest.Fill(t, b, "confirm", "Looking-Glass-2027")
	browsertest.Submit(t, b, "new")
	browsertest.WaitURLPrefix(t, b, s.url+"/?done=password")
	txt = browsertest.WaitText(t, b, "Your password was changed")
	if !strings.Contains(txt, "ad-corp") || strings.Count(txt, "pending") < 2 {
		t.Fatalf("status panel after the change: %s", txt)
	}
	browsertest.Screenshot(t, b, "password-changed-status")
	st := s.admin(t, "GET", "/api/v1/users/"+uid+"/status", nil)
	want(t, st, 200)
	if st.body["total"].(float64) != 2 || !strings.Contains(st.raw, `"state": "pending"`) {
		t.Fatalf("status over the API: %s", st.raw)
	}
	// The status panel's JSON, as the page's script reads it.
	if !strings.Contains(browsertest.PageText(t, b), "m365-contoso") {
		t.Fatal("status panel lost its rows")
	}

	// Profile edit.
	browsertest.Fill(t, b, "displayName", "Alice L.")
	browsertest.Submit(t, b, "displayName")
	browsertest.WaitText(t, b, "Your profile was saved")
	u := s.admin(t, "GET", "/api/v1/users/"+uid, nil)
	if u.body["displayName"] != "Alice L." {
		t.Fatalf("profile not saved: %s", u.raw)
	}

	// A form without its CSRF token is refused.
	resp, err := http.PostForm(s.url+"/profile", map[string][]string{"displayName": {"Mallory"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if u := s.admin(t, "GET", "/api/v1/users/"+uid, nil); u.body["displayName"] != "Alice L." {
		t.Fatal("a cross-site form changed the profile")
	}

	// Activation: an admin-created staged user sets a password and is in.
	r := s.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "bob", "email": "bob@example.com", "state": "staged"})
	want(t, r, 201)
	bob := r.body["id"].(string)
	link := s.admin(t, "POST", "/api/v1/users/"+bob+"/activation", map[string]any{"ttl": "1h"})
	want(t, link, 201)
	b2 := browsertest.NewBrowser(t)
	browsertest.Navigate(t, b2, link.body["url"].(string))
	browsertest.WaitText(t, b2, "Choose a password to activate your account")
	browsertest.Screenshot(t, b2, "activation")
	browsertest.Fill(t, b2, "new", "Bobs-Burgers-2026")
	browsertest.Fill(t, b2, "confirm", "Bobs-Burgers-2026")
	browsertest.Submit(t, b2, "new")
	browsertest.WaitText(t, b2, "Hello, bob")
	if u := s.admin(t, "GET", "/api/v1/users/"+bob, nil); u.body["state"] != "active" {
		t.Fatalf("bob not active: %s", u.raw)
	}
	browsertest.Navigate(t, b2, link.body["url"].(string))
	browsertest.WaitText(t, b2, "This link cannot be used")

	// An administrator's reset with "must change": the next sign-in asks
	// for a new password before anything else.
	want(t, s.admin(t, "POST", "/api/v1/users/"+bob+"/password", map[string]any{"password": "Temporary-Pass-99", "mustChange": true}), 204)
	browsertest.Navigate(t, b2, s.url+"/logout")
	browsertest.Navigate(t, b2, s.url+"/")
	browsertest.WaitURLPrefix(t, b2, s.url+"/login")
	login(t, b2, "bob", "Temporary-Pass-99")
	browsertest.WaitURLPrefix(t, b2, s.url+"/password")
	browsertest.WaitText(t, b2, "asked you to change your password")
	browsertest.Screenshot(t, b2, "forced-change")
	browsertest.Fill(t, b2, "current", "Temporary-Pass-99")
	browsertest.Fill(t, b2, "new", "Bobs-Burgers-2027")
	browsertest.Fill(t, b2, "confirm", "Bobs-Burgers-2027")
	browsertest.Submit(t, b2, "new")
	browsertest.WaitText(t, b2, "Hello, bob")

	// Alice signs her other browser out from the sessions list... here,
	// the current one: she is sent to the login page.
	browsertest.Navigate(t, b, s.url+"/")
	browsertest.WaitText(t, b, "Signed-in browsers")
	browsertest.Click(t, b, `form[action="/sessions/end"] button`)
	browsertest.WaitURLPrefix(t, b, s.url+"/login")
}
