package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/headwater/headwater/internal/samltest"
)

// noRedirect is a client that shows each hop instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func hop(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestSAMLRequestChecks: a signed AuthnRequest with a corrupted signature
// is refused, as is an unsigned one from an SP that signs, and a request
// ID is answered only once.
func TestSAMLRequestChecks(t *testing.T) {
	s, md, _ := samlSetup(t)
	cfg, _ := md.SPConfig(samltest.BindingRedirect)
	cfg.SignRequests = true
	sp := samltest.StartSP(t, cfg)
	registerSP(t, s, sp, "")

	// The SP's /login answers with a redirect to our SSO URL.
	resp, _ := hop(t, sp.LoginURL())
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, s.url+"/saml/sso?") || !strings.Contains(loc, "Signature=") {
		t.Fatalf("SP redirect: %s", loc)
	}
	u, _ := url.Parse(loc)

	// Corrupt one character of the signature.
	q := u.Query()
	sig := []byte(q.Get("Signature"))
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	q.Set("Signature", string(sig))
	bad := *u
	bad.RawQuery = q.Encode()
	r, body := hop(t, bad.String())
	if r.StatusCode != http.StatusForbidden || !strings.Contains(body, "not signed correctly") {
		t.Fatalf("corrupted signature: %d %s", r.StatusCode, body)
	}
	// No signature at all, from an SP whose metadata says it signs.
	q.Del("Signature")
	q.Del("SigAlg")
	bad.RawQuery = q.Encode()
	if r, body := hop(t, bad.String()); r.StatusCode != http.StatusForbidden || !strings.Contains(body, "not signed") {
		t.Fatalf("unsigned request: %d %s", r.StatusCode, body)
	}
	// The genuine request is accepted (parked, then the login page)...
	r, _ = hop(t, loc)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/saml/sso/resume?") {
		t.Fatalf("genuine request: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// ...once.
	r, body = hop(t, loc)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Fatalf("replayed request: %d %s", r.StatusCode, body)
	}
	// The error pages carry the strict policy.
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP: %q", csp)
	}
}

// TestSPRegistry: metadata by XML, by URL, errors in plain words, listing
// and removal.
func TestSPRegistry(t *testing.T) {
	s, md, _ := samlSetup(t)
	cfg, _ := md.SPConfig(samltest.BindingPOST)
	sp := samltest.StartSP(t, cfg)

	r := s.admin(t, "POST", "/api/v1/saml/service-providers", "<not-metadata/>", "Content-Type", "application/samlmetadata+xml")
	if r.status != 400 || errField(r, "code") != "invalid_metadata" {
		t.Fatalf("junk metadata: %d %s", r.status, r.raw)
	}
	r = s.admin(t, "POST", "/api/v1/saml/service-providers", map[string]any{"metadataUrl": sp.MetadataURL(), "name": "Docs", "preset": "m365"})
	want(t, r, 201)
	if r.body["entityId"] != sp.EntityID || r.body["name"] != "Docs" {
		t.Fatalf("registered: %s", r.raw)
	}
	// Registering the same entity again replaces it.
	r = s.admin(t, "POST", "/api/v1/saml/service-providers", map[string]any{"metadataXml": string(sp.MetadataXML()), "name": "Docs 2"})
	want(t, r, 200)
	r = s.admin(t, "POST", "/api/v1/saml/service-providers", map[string]any{"metadataXml": string(sp.MetadataXML()), "preset": "nope"})
	if r.status != 400 || errField(r, "field") != "preset" {
		t.Fatalf("bad preset: %d %s", r.status, r.raw)
	}
	r = s.admin(t, "POST", "/api/v1/saml/service-providers", map[string]any{"metadataXml": string(sp.MetadataXML()), "groups": []string{"no-such-group"}})
	if r.status != 400 || errField(r, "field") != "groups" {
		t.Fatalf("unknown group: %d %s", r.status, r.raw)
	}
	r = s.admin(t, "GET", "/api/v1/saml/service-providers", nil)
	want(t, r, 200)
	if r.body["total"].(float64) != 1 {
		t.Fatalf("list: %s", r.raw)
	}
	want(t, s.admin(t, "DELETE", "/api/v1/saml/service-providers?entityId="+url.QueryEscape(sp.EntityID), nil), 204)
	want(t, s.admin(t, "DELETE", "/api/v1/saml/service-providers?entityId="+url.QueryEscape(sp.EntityID), nil), 404)

	// Key rollover: prepare publishes a second certificate; promote
	// makes it the only one.
	want(t, s.admin(t, "POST", "/api/v1/saml/keys/promote", nil), 400)
	want(t, s.admin(t, "POST", "/api/v1/saml/keys/next", nil), 200)
	md2, err := samltest.FetchIdPMetadata(t.Context(), s.url+"/saml/metadata")
	if err != nil || len(md2.SigningCertsPEM) != 2 || md2.SigningCertsPEM[0] != md.SigningCertsPEM[0] {
		t.Fatalf("metadata after prepare: %d certs, %v", len(md2.SigningCertsPEM), err)
	}
	want(t, s.admin(t, "POST", "/api/v1/saml/keys/promote", nil), 200)
	md3, _ := samltest.FetchIdPMetadata(t.Context(), s.url+"/saml/metadata")
	if len(md3.SigningCertsPEM) != 1 || md3.SigningCertsPEM[0] != md2.SigningCertsPEM[1] {
		t.Fatalf("metadata after promote: %+v", md3.SigningCertsPEM)
	}
}
