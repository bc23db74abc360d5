package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store/etcdtest"
	"github.com/headwater/headwater/config"
)

// TestSessionsAcrossReplicas: two replicas on one external etcd. A browser
// signs in on one; the other serves its portal and accepts its forms; a
// sign-out on the second ends the session on the first.
func TestSessionsAcrossReplicas(t *testing.T) {
	ext := etcdtest.StartExternal(t)
	key := filepath.Join(t.TempDir(), "shared.key") // replicas share the sealing key
	external := func(c *config.Config) {
		c.Etcd.Endpoints = []string{ext.Endpoint}
		c.Etcd.RequestTimeout = config.Duration(2 * time.Second)
		c.SecretKeyFile = key
	}
	a := start(t, external)
	b := start(t, external)
	want(t, a.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "rita", "givenName": "Rita", "email": "rita@example.com",
		"password": "Replica-Pass-2026", "state": "active"}), 201)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	page := func(u string) string {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	login := page(a.url + "/login")
	m := csrf.FindStringSubmatch(login)
	if m == nil {
		t.Fatalf("login page: %s", login)
	}
	resp, err := c.PostForm(a.url+"/login", url.Values{"username": {"rita"}, "password": {"Replica-Pass-2026"}, "csrf": {m[1]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Cookies are per host, not per port: the same jar reaches replica b.
	home := page(b.url + "/")
	if !strings.Contains(home, "Hello, Rita") {
		t.Fatalf("replica b does not know the session:\n%s", home)
	}
	// A form from replica b (CSRF key shared through etcd), posted to a.
	m = csrf.FindStringSubmatch(home)
	resp, err = c.PostForm(a.url+"/profile", url.Values{"csrf": {m[1]}, "givenName": {"Rita"}, "familyName": {"Replica"}, "displayName": {""}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Query().Get("done") != "profile" {
		t.Fatalf("profile form across replicas ended at %s", resp.Request.URL)
	}
	// Sign out on b: a no longer knows the browser.
	page(b.url + "/logout")
	if home := page(a.url + "/"); !strings.Contains(home, `action="/login"`) {
		t.Fatal("the session survived a sign-out on the other replica")
	}
}
