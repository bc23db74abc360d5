package samltest_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/headwater/headwater/internal/samltest"
)

// testIdP is a minimal IdP for proving the harness without Headwater:
// crewjam/saml's IdentityProvider for SSO, with a fixed session, plus a
// hand-made HTTP-Redirect SLO endpoint (crewjam has none).
type testIdP struct {
	t    testing.TB
	URL  string
	Keys samltest.KeyPair
	IdP  *saml.IdentityProvider

	mu  sync.Mutex
	sps map[string]*saml.EntityDescriptor
	// sloSigner signs the LogoutResponses and LogoutRequests the IdP sends;
	// nil sends them unsigned.
	sloSigner *rsa.PrivateKey
	// What the IdP received, for assertions.
	ssoQueries     []url.Values
	ssoRawQueries  []string
	ssoPostedXML   [][]byte
	sloRequests    []sloMessage
	sloResponses   []sloMessage
	lastLogoutReqs map[string]string // LogoutRequest ID the IdP sent -> SP entity ID
}

type sloMessage struct {
	XML      []byte
	RawQuery string
}

var fixedSession = &saml.Session{
	ID:             "session-1",
	Index:          "idx-42",
	NameID:         "ada@example.com",
	NameIDFormat:   samltest.NameIDFormatEmail,
	UserName:       "ada",
	UserEmail:      "ada@example.com",
	UserGivenName:  "Ada",
	UserSurname:    "Lovelace",
	UserCommonName: "Ada Lovelace",
	Groups:         []string{"staff", "admins"},
}

type fixedSessionProvider struct{}

func (fixedSessionProvider) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	s := *fixedSession
	s.CreateTime = time.Now().Add(-time.Minute)
	s.ExpireTime = time.Now().Add(time.Hour)
	return &s
}

func (idp *testIdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if ed, ok := idp.sps[id]; ok {
		return ed, nil
	}
	return nil, os.ErrNotExist
}

// Register adds an SP from its metadata, as Headwater's admin API will.
func (idp *testIdP) Register(metadata []byte) {
	idp.t.Helper()
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(metadata, &ed); err != nil {
		idp.t.Fatalf("test IdP: SP metadata: %v\n%s", err, metadata)
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.sps[ed.EntityID] = &ed
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("test IdP: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

func startTestIdP(t testing.TB, keys samltest.KeyPair) *testIdP {
	t.Helper()
	idp := &testIdP{t: t, Keys: keys, sps: map[string]*saml.EntityDescriptor{}, sloSigner: keys.Key, lastLogoutReqs: map[string]string{}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	idp.URL = srv.URL
	base, _ := url.Parse(srv.URL)
	idp.IdP = &saml.IdentityProvider{
		Key:                     keys.Key,
		Certificate:             keys.Cert,
		Logger:                  log.New(tWriter{t}, "", 0),
		MetadataURL:             *base.JoinPath("metadata"),
		SSOURL:                  *base.JoinPath("sso"),
		LogoutURL:               *base.JoinPath("slo"),
		ServiceProviderProvider: idp,
		SessionProvider:         fixedSessionProvider{},
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
	}
	mux.HandleFunc("/metadata", idp.IdP.ServeMetadata)
	mux.HandleFunc("/sso", func(w http.ResponseWriter, r *http.Request) {
		idp.recordSSO(r)
		idp.IdP.ServeSSO(w, r)
	})
	mux.HandleFunc("/idp-initiated", func(w http.ResponseWriter, r *http.Request) {
		idp.IdP.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), r.URL.Query().Get("RelayState"))
	})
	mux.HandleFunc("/slo", idp.serveSLO)
	mux.HandleFunc("/start-logout", idp.serveStartLogout)
	return idp
}

func (idp *testIdP) recordSSO(r *http.Request) {
	var posted []byte
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil {
			posted, _ = base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLRequest"))
		}
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.ssoQueries = append(idp.ssoQueries, r.URL.Query())
	idp.ssoRawQueries = append(idp.ssoRawQueries, r.URL.RawQuery)
	idp.ssoPostedXML = append(idp.ssoPostedXML, posted)
}

// MetadataXML is the IdP's metadata document.
func (idp *testIdP) MetadataXML() []byte {
	idp.t.Helper()
	buf, err := xml.MarshalIndent(idp.IdP.Metadata(), "", "  ")
	if err != nil {
		idp.t.Fatal(err)
	}
	return buf
}

// SPConfig builds an SP config from the IdP's metadata, through the
// harness's own parser.
func (idp *testIdP) SPConfig(binding samltest.Binding) samltest.SPConfig {
	idp.t.Helper()
	md, err := samltest.ParseIdPMetadata(idp.MetadataXML())
	if err != nil {
		idp.t.Fatal(err)
	}
	cfg, err := md.SPConfig(binding)
	if err != nil {
		idp.t.Fatal(err)
	}
	// crewjam's metadata lists no SLO endpoint; the test IdP has one.
	cfg.IdPSLOURL = idp.URL + "/slo"
	return cfg
}

// serveSLO answers the SP's LogoutRequest with a LogoutResponse by
// redirect, or takes the SP's LogoutResponse to a logout the IdP started.
func (idp *testIdP) serveSLO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("SAMLRequest") != "":
		reqXML, err := inflate(q.Get("SAMLRequest"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		idp.mu.Lock()
		idp.sloRequests = append(idp.sloRequests, sloMessage{XML: reqXML, RawQuery: r.URL.RawQuery})
		idp.mu.Unlock()
		var lr struct {
			ID     string `xml:"ID,attr"`
			Issuer string `xml:"Issuer"`
		}
		if err := xml.Unmarshal(reqXML, &lr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sp, err := idp.GetServiceProvider(r, lr.Issuer)
		if err != nil {
			http.Error(w, "unknown SP "+lr.Issuer, http.StatusBadRequest)
			return
		}
		dest := spSLOLocation(sp)
		resp := fmt.Sprintf(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_%x" Version="2.0" IssueInstant="%s" Destination="%s" InResponseTo="%s"><saml:Issuer>%s</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`,
			randomID(), time.Now().UTC().Format(time.RFC3339), dest, lr.ID, idp.IdP.MetadataURL.String())
		http.Redirect(w, r, idp.redirectURL(dest, "SAMLResponse", []byte(resp), q.Get("RelayState")), http.StatusFound)
	case q.Get("SAMLResponse") != "":
		respXML, err := inflate(q.Get("SAMLResponse"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		idp.mu.Lock()
		idp.sloResponses = append(idp.sloResponses, sloMessage{XML: respXML, RawQuery: r.URL.RawQuery})
		idp.mu.Unlock()
		fmt.Fprint(w, "<!DOCTYPE html><p>IdP: logout complete</p>")
	default:
		http.Error(w, "no SAML message", http.StatusBadRequest)
	}
}

// serveStartLogout starts IdP-initiated logout of the fixed session at the
// SP named by ?sp=.
func (idp *testIdP) serveStartLogout(w http.ResponseWriter, r *http.Request) {
	sp, err := idp.GetServiceProvider(r, r.URL.Query().Get("sp"))
	if err != nil {
		http.Error(w, "unknown SP", http.StatusNotFound)
		return
	}
	dest := spSLOLocation(sp)
	id := fmt.Sprintf("_%x", randomID())
	req := fmt.Sprintf(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s"><saml:Issuer>%s</saml:Issuer><saml:NameID Format="%s">%s</saml:NameID><samlp:SessionIndex>%s</samlp:SessionIndex></samlp:LogoutRequest>`,
		id, time.Now().UTC().Format(time.RFC3339), dest, idp.IdP.MetadataURL.String(), fixedSession.NameIDFormat, fixedSession.NameID, fixedSession.Index)
	idp.mu.Lock()
	idp.lastLogoutReqs[id] = sp.EntityID
	idp.mu.Unlock()
	http.Redirect(w, r, idp.redirectURL(dest, "SAMLRequest", []byte(req), ""), http.StatusFound)
}

func spSLOLocation(sp *saml.EntityDescriptor) string {
	for _, d := range sp.SPSSODescriptors {
		for _, e := range d.SingleLogoutServices {
			if e.Binding == saml.HTTPRedirectBinding {
				return e.Location
			}
		}
	}
	return ""
}

// redirectURL encodes a message in the HTTP-Redirect binding, signing it
// (RSA-SHA256 over the encoded query, per the bindings spec §3.4.4.1) when
// the IdP has an SLO signer.
func (idp *testIdP) redirectURL(dest, param string, msg []byte, relayState string) string {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	fw.Write(msg)
	fw.Close()
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	idp.mu.Lock()
	signer := idp.sloSigner
	idp.mu.Unlock()
	if signer != nil {
		q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
		sum := sha256.Sum256([]byte(q))
		sig, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return dest + "?" + q
}

// verifyRedirectSignature checks an HTTP-Redirect binding signature over
// the raw, still-encoded query parameters, as the bindings spec says a
// receiver must.
func verifyRedirectSignature(rawQuery, param string, cert *x509.Certificate) error {
	raw := map[string]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		raw[k] = kv
	}
	if raw["Signature"] == "" || raw["SigAlg"] == "" {
		return errors.New("unsigned")
	}
	signed := raw[param]
	if rs := raw["RelayState"]; rs != "" {
		signed += "&" + rs
	}
	signed += "&" + raw["SigAlg"]
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return err
	}
	if alg := vals.Get("SigAlg"); alg != dsig.RSASHA256SignatureMethod {
		return fmt.Errorf("SigAlg %s, want RSA-SHA256", alg)
	}
	sig, err := base64.StdEncoding.DecodeString(vals.Get("Signature"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(signed))
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
}

func inflate(b64 string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
}

func randomID() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

type ssoRecord struct {
	query    url.Values
	rawQuery string
	posted   []byte // the AuthnRequest XML of the POST binding
}

func (idp *testIdP) lastSSO(t testing.TB) ssoRecord {
	t.Helper()
	idp.mu.Lock()
	defer idp.mu.Unlock()
	n := len(idp.ssoQueries)
	if n == 0 {
		t.Fatal("test IdP: no AuthnRequest arrived")
	}
	return ssoRecord{query: idp.ssoQueries[n-1], rawQuery: idp.ssoRawQueries[n-1], posted: idp.ssoPostedXML[n-1]}
}

func (idp *testIdP) setSLOSigner(kp *samltest.KeyPair) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.sloSigner = nil
	if kp != nil {
		idp.sloSigner = kp.Key
	}
}

func (idp *testIdP) lastSLORequest(t testing.TB) sloMessage {
	t.Helper()
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if len(idp.sloRequests) == 0 {
		t.Fatal("test IdP: no LogoutRequest arrived")
	}
	return idp.sloRequests[len(idp.sloRequests)-1]
}

func (idp *testIdP) lastSLOResponse(t testing.TB) sloMessage {
	t.Helper()
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if len(idp.sloResponses) == 0 {
		t.Fatal("test IdP: no LogoutResponse arrived")
	}
	return idp.sloResponses[len(idp.sloResponses)-1]
}
