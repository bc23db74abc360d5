package samltest_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/headwater/headwater/internal/browsertest"
	"github.com/headwater/headwater/internal/samltest"
)

// wantAttributes are what crewjam's DefaultAssertionMaker makes of
// fixedSession, keyed by attribute Name as node-saml reports them.
var wantAttributes = map[string][]string{
	"urn:oid:0.9.2342.19200300.100.1.1": {"ada"},             // uid
	"urn:oid:0.9.2342.19200300.100.1.3": {"ada@example.com"}, // mail
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.6":  {"ada@example.com"}, // eduPersonPrincipalName
	"urn:oid:2.5.4.4":                   {"Lovelace"},        // sn
	"urn:oid:2.5.4.42":                  {"Ada"},             // givenName
	"urn:oid:2.5.4.3":                   {"Ada Lovelace"},    // cn
	"urn:oid:1.3.6.1.4.1.5923.1.1.1.1":  {"staff", "admins"}, // eduPersonAffiliation
}

func mustLast(t *testing.T, sp *samltest.SP) samltest.Result {
	t.Helper()
	res, err := sp.Last()
	if err != nil {
		t.Fatalf("SP.Last: %v", err)
	}
	return res
}

func mustLastLogout(t *testing.T, sp *samltest.SP) samltest.LogoutResult {
	t.Helper()
	res, err := sp.LastLogout()
	if err != nil {
		t.Fatalf("SP.LastLogout: %v", err)
	}
	return res
}

// login runs SP-initiated SSO in the browser and returns the SP's verdict.
func login(t *testing.T, ctx context.Context, sp *samltest.SP, relayState string) samltest.Result {
	t.Helper()
	browsertest.Navigate(t, ctx, sp.LoginURLWithRelayState(relayState))
	browsertest.WaitURLPrefix(t, ctx, sp.ACSURL())
	return mustLast(t, sp)
}

func TestSPInitiatedSSO(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	stranger := samltest.NewKeyPair(t, "not the IdP")
	ctx := browsertest.NewBrowser(t)

	for _, tc := range []struct {
		name    string
		binding samltest.Binding
		sign    bool
		lenient bool // AcceptUnsignedResponse and AcceptUnsignedAssertion
	}{
		{"redirect", samltest.BindingRedirect, false, true},
		{"post", samltest.BindingPOST, false, false},
		{"redirect-signed", samltest.BindingRedirect, true, false},
		{"post-signed", samltest.BindingPOST, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := idp.SPConfig(tc.binding)
			cfg.SignRequests = tc.sign
			cfg.NameIDFormat = samltest.NameIDFormatEmail
			cfg.AcceptUnsignedResponse = tc.lenient
			cfg.AcceptUnsignedAssertion = tc.lenient
			sp := samltest.StartSP(t, cfg)
			md := string(sp.MetadataXML())
			if !strings.Contains(md, sp.ACSURL()) || !strings.Contains(md, `entityID="`+sp.EntityID+`"`) {
				t.Fatalf("SP metadata lacks the ACS URL or entity ID:\n%s", md)
			}
			if tc.sign != strings.Contains(md, `AuthnRequestsSigned="true"`) {
				t.Errorf("SignRequests=%v but metadata says otherwise:\n%s", tc.sign, md)
			}
			idp.Register(sp.MetadataXML())

			relayState := "rs-" + tc.name
			res := login(t, ctx, sp, relayState)
			browsertest.Screenshot(t, ctx, "acs")
			if !res.OK {
				t.Fatalf("SP rejected the IdP's response: %s", res.Error)
			}
			if res.NameID != "ada@example.com" || res.NameIDFormat != samltest.NameIDFormatEmail {
				t.Errorf("NameID = %q (%s), want ada@example.com (%s)", res.NameID, res.NameIDFormat, samltest.NameIDFormatEmail)
			}
			if res.SessionIndex != "idx-42" || res.RelayState != relayState || res.InResponseTo == "" {
				t.Errorf("SessionIndex=%q RelayState=%q InResponseTo=%q, want idx-42, %q, the request's ID",
					res.SessionIndex, res.RelayState, res.InResponseTo, relayState)
			}
			if !reflect.DeepEqual(res.Attributes, wantAttributes) {
				t.Errorf("attributes = %v\nwant %v", res.Attributes, wantAttributes)
			}
			if text := browsertest.PageText(t, ctx); !strings.Contains(text, "NameID: ada@example.com") {
				t.Errorf("ACS page does not show the NameID:\n%s", text)
			}

			// The AuthnRequest as the IdP received it.
			sso := idp.lastSSO(t)
			switch {
			case tc.binding == samltest.BindingRedirect && tc.sign:
				if err := verifyRedirectSignature(sso.rawQuery, "SAMLRequest", sp.SigningKey.Cert); err != nil {
					t.Errorf("redirect AuthnRequest signature: %v", err)
				}
			case tc.binding == samltest.BindingRedirect:
				if sso.query.Has("Signature") {
					t.Errorf("unsigned SP sent a Signature: %s", sso.rawQuery)
				}
			case tc.sign:
				if err := samltest.VerifyWithXmlsec1(t, sso.posted, sp.SigningKey.CertPEM); err != nil {
					t.Errorf("posted AuthnRequest signature: %v\n%s", err, sso.posted)
				}
			default:
				if len(sso.posted) == 0 || bytes.Contains(sso.posted, []byte("Signature")) {
					t.Errorf("want an unsigned posted AuthnRequest, got %s", sso.posted)
				}
			}

			// The response, checked by an outside implementation.
			raw, err := res.ResponseXML()
			if err != nil {
				t.Fatal(err)
			}
			if err := samltest.VerifyWithXmlsec1(t, raw, idp.Keys.CertPEM); err != nil {
				t.Errorf("xmlsec1 rejects the IdP's signatures: %v", err)
			}
			if err := samltest.VerifyWithXmlsec1(t, raw, stranger.CertPEM); err == nil {
				t.Error("xmlsec1 accepted the response against an unrelated certificate")
			}
			// crewjam puts ip:port in SubjectConfirmationData/@Address;
			// node-saml ignores Address (and Recipient and Destination).
			if !bytes.Contains(raw, []byte(`Address="127.0.0.1:`)) {
				t.Errorf("expected crewjam's ip:port Address in the response")
			}

			// node-saml forgets a request ID once answered: a replay fails.
			again, err := sp.PostResponse(res.RawResponse, "")
			if err != nil {
				t.Fatal(err)
			}
			if again.OK || !strings.Contains(again.Error, "InResponseTo") {
				t.Errorf("replayed response: ok=%v error=%q, want rejected for its InResponseTo", again.OK, again.Error)
			}
		})
	}
}

func TestIdPInitiatedSSO(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	ctx := browsertest.NewBrowser(t)

	t.Run("allowed", func(t *testing.T) {
		cfg := idp.SPConfig(samltest.BindingRedirect)
		cfg.AllowIdPInitiated = true
		sp := samltest.StartSP(t, cfg)
		idp.Register(sp.MetadataXML())
		browsertest.Navigate(t, ctx, idp.URL+"/idp-initiated?sp="+url.QueryEscape(sp.EntityID)+"&RelayState=from-idp")
		browsertest.WaitURLPrefix(t, ctx, sp.ACSURL())
		res := mustLast(t, sp)
		if !res.OK || res.NameID != "ada@example.com" || res.InResponseTo != "" || res.RelayState != "from-idp" {
			t.Fatalf("IdP-initiated response: ok=%v error=%q nameID=%q inResponseTo=%q relayState=%q",
				res.OK, res.Error, res.NameID, res.InResponseTo, res.RelayState)
		}

		// node-saml keeps no record of IdP-initiated responses, so a replay
		// is accepted: tests must not count on the SP to catch replays.
		again, err := sp.PostResponse(res.RawResponse, "")
		if err != nil {
			t.Fatal(err)
		}
		if !again.OK {
			t.Errorf("replayed IdP-initiated response rejected (%s); node-saml's behaviour changed", again.Error)
		}

		// A changed NameID breaks the signature.
		raw, _ := res.ResponseXML()
		forged := bytes.ReplaceAll(raw, []byte("ada@example.com"), []byte("eve@example.com"))
		bad, err := sp.PostResponse(base64.StdEncoding.EncodeToString(forged), "")
		if err != nil {
			t.Fatal(err)
		}
		if bad.OK || bad.NameID != "" {
			t.Errorf("tampered response accepted: nameID=%q", bad.NameID)
		}
	})

	t.Run("refused", func(t *testing.T) {
		sp := samltest.StartSP(t, idp.SPConfig(samltest.BindingRedirect))
		idp.Register(sp.MetadataXML())
		browsertest.Navigate(t, ctx, idp.URL+"/idp-initiated?sp="+url.QueryEscape(sp.EntityID))
		browsertest.WaitURLPrefix(t, ctx, sp.ACSURL())
		res := mustLast(t, sp)
		if res.OK || !strings.Contains(res.Error, "InResponseTo") {
			t.Errorf("unsolicited response: ok=%v error=%q, want refused for lack of InResponseTo", res.OK, res.Error)
		}
	})
}

func TestSPChecksTheIdPKey(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	stranger := samltest.NewKeyPair(t, "not the IdP")
	ctx := browsertest.NewBrowser(t)

	for _, tc := range []struct {
		name   string
		certs  []string
		wantOK bool
	}{
		{"foreign-key", []string{stranger.CertPEM}, false},
		// Key rollover: any listed certificate may verify.
		{"rollover", []string{stranger.CertPEM, idp.Keys.CertPEM}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := idp.SPConfig(samltest.BindingPOST)
			cfg.IdPCertsPEM = tc.certs
			sp := samltest.StartSP(t, cfg)
			idp.Register(sp.MetadataXML())
			res := login(t, ctx, sp, "")
			if res.OK != tc.wantOK {
				t.Fatalf("ok=%v error=%q, want ok=%v", res.OK, res.Error, tc.wantOK)
			}
			if tc.wantOK {
				return
			}
			if !strings.Contains(strings.ToLower(res.Error), "signature") || res.NameID != "" {
				t.Errorf("error=%q nameID=%q, want a signature error and no identity", res.Error, res.NameID)
			}
			if res.RawResponse == "" {
				t.Error("the rejected response was not kept")
			}
			browsertest.Screenshot(t, ctx, "rejected")
			if text := browsertest.PageText(t, ctx); !strings.Contains(text, "SAML login failed") {
				t.Errorf("ACS page does not say the login failed:\n%s", text)
			}
		})
	}
}

func TestSPInitiatedLogout(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	stranger := samltest.NewKeyPair(t, "not the IdP")
	ctx := browsertest.NewBrowser(t)

	for _, tc := range []struct {
		name   string
		signer *samltest.KeyPair // of the IdP's LogoutResponse; nil: unsigned
		wantOK bool
	}{
		{"signed", &idp.Keys, true},
		// node-saml verifies a redirect signature only when there is one.
		{"unsigned", nil, true},
		{"foreign-key", &stranger, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp.setSLOSigner(tc.signer)
			cfg := idp.SPConfig(samltest.BindingRedirect)
			cfg.SignRequests = true
			sp := samltest.StartSP(t, cfg)
			idp.Register(sp.MetadataXML())
			if res := login(t, ctx, sp, ""); !res.OK {
				t.Fatalf("login: %s", res.Error)
			}

			browsertest.Navigate(t, ctx, sp.LogoutURL())
			browsertest.WaitURLPrefix(t, ctx, sp.SLOURL())
			lo := mustLastLogout(t, sp)
			if lo.Kind != "LogoutResponse" || lo.Binding != samltest.BindingRedirect || lo.Signed != (tc.signer != nil) {
				t.Errorf("kind=%q binding=%q signed=%v", lo.Kind, lo.Binding, lo.Signed)
			}
			if lo.OK != tc.wantOK {
				t.Fatalf("logout ok=%v error=%q, want ok=%v", lo.OK, lo.Error, tc.wantOK)
			}

			req := idp.lastSLORequest(t)
			if err := verifyRedirectSignature(req.RawQuery, "SAMLRequest", sp.SigningKey.Cert); err != nil {
				t.Errorf("the SP's LogoutRequest signature: %v", err)
			}
			for _, want := range []string{">ada@example.com</", ">idx-42</", `Format="` + samltest.NameIDFormatEmail} {
				if !bytes.Contains(req.XML, []byte(want)) {
					t.Errorf("LogoutRequest lacks %s:\n%s", want, req.XML)
				}
			}
		})
	}
}

func TestIdPInitiatedLogout(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	ctx := browsertest.NewBrowser(t)
	cfg := idp.SPConfig(samltest.BindingRedirect)
	cfg.SignRequests = true
	cfg.IdPEntityID = idp.IdP.MetadataURL.String()
	sp := samltest.StartSP(t, cfg)
	idp.Register(sp.MetadataXML())
	if res := login(t, ctx, sp, ""); !res.OK {
		t.Fatalf("login: %s", res.Error)
	}

	browsertest.Navigate(t, ctx, idp.URL+"/start-logout?sp="+url.QueryEscape(sp.EntityID))
	browsertest.WaitURLPrefix(t, ctx, idp.URL+"/slo")
	if text := browsertest.PageText(t, ctx); !strings.Contains(text, "IdP: logout complete") {
		t.Errorf("the logout did not come back to the IdP:\n%s", text)
	}
	lo := mustLastLogout(t, sp)
	if !lo.OK || lo.Kind != "LogoutRequest" || !lo.Signed || lo.NameID != "ada@example.com" || lo.SessionIndex != "idx-42" {
		t.Errorf("SP's view of the IdP's LogoutRequest: %+v", lo)
	}
	resp := idp.lastSLOResponse(t)
	if err := verifyRedirectSignature(resp.RawQuery, "SAMLResponse", sp.SigningKey.Cert); err != nil {
		t.Errorf("the SP's LogoutResponse signature: %v", err)
	}
	if !bytes.Contains(resp.XML, []byte("urn:oasis:names:tc:SAML:2.0:status:Success")) {
		t.Errorf("the SP's LogoutResponse is not a success:\n%s", resp.XML)
	}
}

func TestParseIdPMetadata(t *testing.T) {
	t.Parallel()
	keys := samltest.NewKeyPair(t, "test IdP")
	idp := startTestIdP(t, keys)
	md, err := samltest.ParseIdPMetadata(idp.MetadataXML())
	if err != nil {
		t.Fatal(err)
	}
	if md.EntityID != idp.URL+"/metadata" {
		t.Errorf("EntityID = %q", md.EntityID)
	}
	for _, b := range []string{samltest.HTTPRedirectBindingURI, samltest.HTTPPostBindingURI} {
		if md.SSO[b] != idp.URL+"/sso" {
			t.Errorf("SSO[%s] = %q", b, md.SSO[b])
		}
	}
	if len(md.SigningCertsPEM) == 0 || md.SigningCertsPEM[0] != keys.CertPEM {
		t.Errorf("signing certs = %q, want the IdP's", md.SigningCertsPEM)
	}
	if _, err := samltest.ParseIdPMetadata([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`)); err == nil {
		t.Error("metadata without an IDPSSODescriptor parsed")
	}
}

func TestVerifyWithXmlsec1NeedsASignature(t *testing.T) {
	t.Parallel()
	keys := samltest.NewKeyPair(t, "k")
	err := samltest.VerifyWithXmlsec1(t, []byte(`<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>`), keys.CertPEM)
	if err == nil || !strings.Contains(err.Error(), "no enveloped XML signature") {
		t.Errorf("err = %v, want 'no enveloped XML signature'", err)
	}
}

// authnRequestFromLogin fetches /login without a browser and decodes the
// AuthnRequest it sends, reporting whether it came deflated.
func authnRequestFromLogin(t *testing.T, sp *samltest.SP) (xml []byte, deflated bool) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(sp.LoginURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var encoded string
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		encoded = u.Query().Get("SAMLRequest")
	} else {
		m := regexp.MustCompile(`name="SAMLRequest" value="([^"]*)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no SAMLRequest in /login's answer:\n%s", body)
		}
		encoded = html.UnescapeString(string(m[1]))
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("<")) {
		return raw, false
	}
	inflated, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("SAMLRequest is neither XML nor deflated XML: %v", err)
	}
	return inflated, true
}

func TestAuthnRequestOptions(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	for _, tc := range []struct {
		name         string
		binding      samltest.Binding
		deflatePOST  bool
		wantDeflated bool
	}{
		{"redirect", samltest.BindingRedirect, false, true},
		{"post", samltest.BindingPOST, false, false},
		{"post-deflated-like-stock-node-saml", samltest.BindingPOST, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := idp.SPConfig(tc.binding)
			cfg.DeflatePOSTRequest = tc.deflatePOST
			cfg.ForceAuthn = true
			cfg.IsPassive = true
			cfg.NameIDFormat = samltest.NameIDFormatPersistent
			sp := samltest.StartSP(t, cfg)
			req, deflated := authnRequestFromLogin(t, sp)
			if deflated != tc.wantDeflated {
				t.Errorf("deflated = %v, want %v", deflated, tc.wantDeflated)
			}
			for _, want := range []string{
				`ForceAuthn="true"`, `IsPassive="true"`,
				`Format="` + samltest.NameIDFormatPersistent + `"`,
				`Destination="` + idp.URL + `/sso"`,
				`AssertionConsumerServiceURL="` + sp.ACSURL() + `"`,
				`>` + sp.EntityID + `</saml:Issuer>`,
			} {
				if !bytes.Contains(req, []byte(want)) {
					t.Errorf("AuthnRequest lacks %s:\n%s", want, req)
				}
			}
		})
	}
}

// TestSignatureDemands strips the Response's signature from a real
// response, leaving the Assertion's: the default SP (stock node-saml)
// refuses it, one with AcceptUnsignedResponse takes it. The second SP has
// another ACS, so this also shows that node-saml ignores Destination.
func TestSignatureDemands(t *testing.T) {
	t.Parallel()
	idp := startTestIdP(t, samltest.NewKeyPair(t, "test IdP"))
	ctx := browsertest.NewBrowser(t)
	cfg := idp.SPConfig(samltest.BindingRedirect)
	cfg.EntityID = "urn:samltest:shared-sp"
	cfg.AllowIdPInitiated = true
	strict := samltest.StartSP(t, cfg)
	cfg.AcceptUnsignedResponse = true
	lenient := samltest.StartSP(t, cfg)
	idp.Register(strict.MetadataXML())

	browsertest.Navigate(t, ctx, idp.URL+"/idp-initiated?sp="+url.QueryEscape(strict.EntityID))
	browsertest.WaitURLPrefix(t, ctx, strict.ACSURL())
	res := mustLast(t, strict)
	if !res.OK {
		t.Fatalf("login: %s", res.Error)
	}
	raw, _ := res.ResponseXML()
	responseSig := regexp.MustCompile(`(?s)^(<samlp:Response[^>]*>\s*<saml:Issuer[^>]*>[^<]*</saml:Issuer>)<ds:Signature.*?</ds:Signature>`)
	if !responseSig.Match(raw) {
		t.Fatalf("no Response signature where crewjam puts it:\n%s", raw)
	}
	stripped := base64.StdEncoding.EncodeToString(responseSig.ReplaceAll(raw, []byte("$1")))

	got, err := strict.PostResponse(stripped, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.OK || !strings.Contains(got.Error, "Invalid document signature") {
		t.Errorf("default SP: ok=%v error=%q, want the unsigned Response refused", got.OK, got.Error)
	}
	got, err = lenient.PostResponse(stripped, "")
	if err != nil {
		t.Fatal(err)
	}
	if !got.OK || got.NameID != "ada@example.com" {
		t.Errorf("SP with AcceptUnsignedResponse: ok=%v error=%q nameID=%q", got.OK, got.Error, got.NameID)
	}
}
