package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/headwater/headwater/internal/browsertest"
	"github.com/headwater/headwater/internal/samltest"
)

// samlSetup starts a server with one user (alice, in group engineering)
// and returns it with the IdP's metadata.
func samlSetup(t *testing.T) (*running, *samltest.IdPMetadata, string) {
	t.Helper()
	s := start(t, nil)
	r := s.admin(t, "POST", "/api/v1/users", map[string]any{
		"userName": "alice", "givenName": "Alice", "familyName": "Liddell", "email": "alice@example.com",
		"password": "Rabbit-Hole-2026", "state": "active",
	})
	want(t, r, 201)
	uid := r.body["id"].(string)
	g := s.admin(t, "POST", "/api/v1/groups", map[string]any{"displayName": "engineering"})
	want(t, g, 201)
	want(t, s.admin(t, "POST", "/api/v1/groups/"+g.body["id"].(string)+"/members", map[string]any{"userIds": []string{uid}}), 204)
	md, err := samltest.FetchIdPMetadata(context.Background(), s.url+"/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	return s, md, uid
}

func registerSP(t *testing.T, s *running, sp *samltest.SP, query string) {
	t.Helper()
	r := s.admin(t, "POST", "/api/v1/saml/service-providers"+query, string(sp.MetadataXML()), "Content-Type", "application/samlmetadata+xml")
	if r.status != 201 && r.status != 200 {
		t.Fatalf("registering SP: %d %s", r.status, r.raw)
	}
}

func login(t *testing.T, b context.Context, user, pw string) {
	t.Helper()
	browsertest.Fill(t, b, "username", user)
	browsertest.Fill(t, b, "password", pw)
	browsertest.Submit(t, b, "password")
}

// TestSAMLWithNodeSP drives real SAML sign-ins in Chromium against an
// independent SP (node-saml): SP-initiated over Redirect and POST, a wrong
// password, IdP-initiated from the portal's tile, and SP-initiated logout.
// The SP trusts only the certificate from Headwater's metadata; xmlsec1
// checks a captured response on its own.
func TestSAMLWithNodeSP(t *testing.T) {
	s, md, _ := samlSetup(t)
	if len(md.SigningCertsPEM) != 1 || md.SSO[samltest.HTTPRedirectBindingURI] != s.url+"/saml/sso" {
		t.Fatalf("metadata: %+v", md)
	}
	cfg, err := md.SPConfig(samltest.BindingRedirect)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NameIDFormat = samltest.NameIDFormatEmail
	cfg.AllowIdPInitiated = true
	sp := samltest.StartSP(t, cfg)
	registerSP(t, s, sp, "?name=Wiki")

	b := browsertest.NewBrowser(t)
	browsertest.Navigate(t, b, sp.LoginURL())
	browsertest.WaitURLPrefix(t, b, s.url+"/login")
	browsertest.Screenshot(t, b, "login")
	login(t, b, "alice", "wrong-password-1")
	browsertest.WaitText(t, b, "The username or password is not correct.")
	browsertest.Screenshot(t, b, "wrong-password")
	login(t, b, "alice", "Rabbit-Hole-2026")
	browsertest.WaitURLPrefix(t, b, sp.ACSURL())
	res, err := sp.Last()
	if err != nil || !res.OK {
		t.Fatalf("SP result: %+v %v", res, err)
	}
	if res.NameID != "alice@example.com" || res.NameIDFormat != samltest.NameIDFormatEmail {
		t.Fatalf("NameID %q format %q", res.NameID, res.NameIDFormat)
	}
	if got := res.Attributes["uid"]; len(got) != 1 || got[0] != "alice" {
		t.Fatalf("attributes: %v", res.Attributes)
	}
	if got := res.Attributes["groups"]; len(got) != 1 || got[0] != "engineering" {
		t.Fatalf("groups attribute: %v", res.Attributes)
	}
	xml, err := res.ResponseXML()
	if err != nil {
		t.Fatal(err)
	}
	if err := samltest.VerifyWithXmlsec1(t, xml, md.SigningCertsPEM[0]); err != nil {
		t.Fatalf("xmlsec1 rejects our signature: %v", err)
	}
	if strings.Contains(string(xml), "Address=") {
		t.Error("SubjectConfirmationData carries an Address (mod_auth_mellon rejects those)")
	}
	// The same response again is refused by the SP (InResponseTo used).
	if again, _ := sp.PostResponse(res.RawResponse, ""); again.OK {
		t.Error("a replayed response was accepted")
	}

	// A second SP over the POST binding: the session signs in at once.
	cfg2, _ := md.SPConfig(samltest.BindingPOST)
	cfg2.DeflatePOSTRequest = true // what stock node-saml apps send
	sp2 := samltest.StartSP(t, cfg2)
	registerSP(t, s, sp2, "?name=Tracker&preset=google")
	browsertest.Navigate(t, b, sp2.LoginURL())
	browsertest.WaitURLPrefix(t, b, sp2.ACSURL())
	if res, err := sp2.Last(); err != nil || !res.OK || res.NameID != "alice@example.com" {
		t.Fatalf("POST binding SP: %+v %v", res, err)
	}

	// IdP-initiated from the portal's tile.
	browsertest.Navigate(t, b, s.url+"/")
	browsertest.Screenshot(t, b, "portal-tiles")
	if txt := browsertest.WaitText(t, b, "Your apps"); !strings.Contains(txt, "Wiki") || !strings.Contains(txt, "Tracker") {
		t.Fatalf("tiles missing: %s", txt)
	}
	before, _ := sp.Last()
	browsertest.Click(t, b, `a.tile[href$="`+url.QueryEscape(sp.EntityID)+`"]`)
	browsertest.WaitURLPrefix(t, b, sp.ACSURL())
	after, err := sp.Last()
	if err != nil || !after.OK || after.InResponseTo != "" || after.ReceivedAt == before.ReceivedAt {
		t.Fatalf("IdP-initiated: %+v %v", after, err)
	}

	// SP-initiated logout ends the Headwater session.
	browsertest.Navigate(t, b, sp.LogoutURL())
	browsertest.WaitURLPrefix(t, b, sp.SLOURL())
	lo, err := sp.LastLogout()
	if err != nil || !lo.OK || !lo.Signed {
		t.Fatalf("logout: %+v %v", lo, err)
	}
	browsertest.Navigate(t, b, sp.LoginURL())
	browsertest.WaitURLPrefix(t, b, s.url+"/login")
}

// TestSAMLTOTPAndForceAuthn: a user with an authenticator signs in with
// password then code; ForceAuthn asks again even with a session; IsPassive
// without a session gets NoPassive; unknown SPs get a readable page.
func TestSAMLTOTPAndForceAuthn(t *testing.T) {
	s, md, _ := samlSetup(t)
	b := browsertest.NewBrowser(t)

	// Enrol an authenticator through the portal.
	browsertest.Navigate(t, b, s.url+"/mfa")
	browsertest.WaitURLPrefix(t, b, s.url+"/login")
	login(t, b, "alice", "Rabbit-Hole-2026")
	browsertest.WaitURLPrefix(t, b, s.url+"/mfa")
	browsertest.Screenshot(t, b, "mfa-enrol")
	secret := between(browsertest.PageText(t, b), "Key: ", "\n")
	if len(secret) < 16 {
		t.Fatalf("no TOTP key on the page: %q", secret)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	browsertest.Fill(t, b, "code", code)
	browsertest.Submit(t, b, "code")
	browsertest.WaitURLPrefix(t, b, s.url+"/?done=mfa")
	browsertest.Navigate(t, b, s.url+"/logout")

	cfg, _ := md.SPConfig(samltest.BindingRedirect)
	cfg.SignRequests = true
	sp := samltest.StartSP(t, cfg)
	registerSP(t, s, sp, "")
	browsertest.Navigate(t, b, sp.LoginURL())
	browsertest.WaitURLPrefix(t, b, s.url+"/login")
	login(t, b, "alice", "Rabbit-Hole-2026")
	browsertest.WaitText(t, b, "Enter the 6-digit code from your authenticator app")
	browsertest.Screenshot(t, b, "totp-step")
	browsertest.Fill(t, b, "otp", "000000")
	browsertest.Submit(t, b, "otp")
	browsertest.WaitText(t, b, "That code is not valid")
	// The enrolment code's step is spent; the next step's code is valid.
	next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	browsertest.Fill(t, b, "otp", next)
	browsertest.Submit(t, b, "otp")
	browsertest.WaitURLPrefix(t, b, sp.ACSURL())
	if res, err := sp.Last(); err != nil || !res.OK {
		t.Fatalf("TOTP sign-in: %+v %v", res, err)
	}

	// ForceAuthn: a session exists, yet the password is asked again.
	cfgF, _ := md.SPConfig(samltest.BindingRedirect)
	cfgF.ForceAuthn = true
	spF := samltest.StartSP(t, cfgF)
	registerSP(t, s, spF, "")
	browsertest.Navigate(t, b, spF.LoginURL())
	browsertest.WaitURLPrefix(t, b, s.url+"/login")

	// IsPassive in a fresh browser: NoPassive, no login page.
	cfgP, _ := md.SPConfig(samltest.BindingRedirect)
	cfgP.IsPassive = true
	spP := samltest.StartSP(t, cfgP)
	registerSP(t, s, spP, "")
	b2 := browsertest.NewBrowser(t)
	browsertest.Navigate(t, b2, spP.LoginURL())
	browsertest.WaitURLPrefix(t, b2, spP.ACSURL())
	if res, _ := spP.Last(); res.OK || !strings.Contains(res.Error, "NoPassive") {
		t.Fatalf("IsPassive without session: %+v", res)
	}

	// An SP that is not registered gets a page that says so.
	cfgU, _ := md.SPConfig(samltest.BindingRedirect)
	spU := samltest.StartSP(t, cfgU)
	browsertest.Navigate(t, b2, spU.LoginURL())
	browsertest.WaitText(t, b2, "Unknown application")
	browsertest.Screenshot(t, b2, "unknown-sp")
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if j := strings.Index(s, b); j >= 0 {
		s = s[:j]
	}
	return strings.TrimSpace(s)
}
