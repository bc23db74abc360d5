package samlidp_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/samlidp"
)

// FuzzParseMetadata: arbitrary bytes never panic the metadata parser, and
// what it accepts has an entity ID and an HTTP-POST ACS.
func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(spMetadata("")))
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + spMetadata("") + `</EntitiesDescriptor>`))
	f.Add([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`))
	f.Add([]byte("<"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ed, err := samlidp.ParseMetadata(b)
		if err != nil {
			return
		}
		if ed.EntityID == "" || len(ed.SPSSODescriptors) == 0 {
			t.Fatalf("accepted metadata without entity ID or SP descriptor: %q", b)
		}
	})
}

// FuzzSSO sends arbitrary AuthnRequests through both bindings: the IdP
// answers every one with a page or a redirect, never a 5xx or a panic, and
// answers with an assertion only for a request from the registered SP.
func FuzzSSO(f *testing.F) {
	fx := newFixture(f, &authority.ServiceProvider{EntityID: spEntity, MetadataXML: spMetadata("")})
	dest := fx.srv.URL + "/saml/sso"
	for _, s := range []string{
		authnRequest("id-seed", dest, ""),
		authnRequest("id-seed2", dest, ` ForceAuthn="true" IsPassive="true"`),
		strings.Replace(authnRequest("id-seed3", dest, ""), "</saml:Issuer>", `</saml:Issuer><samlp:NameIDPolicy Format="x"/>`, 1),
		`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`,
		"not xml",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, req []byte, redirect bool) {
		var resp *http.Response
		var err error
		if redirect {
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
			w.Write(req)
			w.Close()
			resp, err = noFollow.Get(dest + "?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())))
		} else {
			resp, err = noFollow.PostForm(dest, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(req)}})
		}
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, req, body)
		}
		if strings.Contains(body, "SAMLResponse") && !bytes.Contains(req, []byte(spEntity)) {
			t.Fatalf("answered a request that does not name the SP: %q", req)
		}
	})
}

// FuzzSLO: arbitrary LogoutRequests never panic or 5xx.
func FuzzSLO(f *testing.F) {
	fx := newFixture(f, &authority.ServiceProvider{EntityID: spEntity, MetadataXML: spMetadata("")})
	f.Add([]byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="l1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>` + spEntity + `</saml:Issuer><saml:NameID>x</saml:NameID></samlp:LogoutRequest>`))
	f.Add([]byte("<x/>"))
	f.Fuzz(func(t *testing.T, req []byte) {
		resp, err := noFollow.PostForm(fx.srv.URL+"/saml/slo", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(req)}})
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(resp); resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, req, body)
		}
	})
}
