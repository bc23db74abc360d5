package samltest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binding is how the SP sends its AuthnRequest to the IdP.
type Binding string

// The two front-channel bindings node-saml can send an AuthnRequest in.
const (
	BindingRedirect Binding = "HTTP-Redirect"
	BindingPOST     Binding = "HTTP-POST"
)

// NameID formats an SP may ask for.
const (
	NameIDFormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDFormatEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

// SPConfig configures the node-saml SP. IdPSSOURL and IdPCertsPEM are
// required; IdPMetadata.SPConfig fills them from an IdP's metadata.
type SPConfig struct {
	// EntityID is the SP's entity ID (its Issuer and the Audience it
	// expects). Default: BaseURL + "/metadata", known once it listens.
	EntityID string
	// IdPEntityID, when set, is the Issuer the SP demands on logout
	// messages. node-saml checks no Issuer on login responses at all.
	IdPEntityID string
	// IdPSSOURL receives the AuthnRequest (the Destination node-saml sets).
	IdPSSOURL string
	// IdPSLOURL receives the SP's LogoutRequests and LogoutResponses;
	// empty turns /logout off.
	IdPSLOURL string
	// IdPCertsPEM are the certificates whose keys may sign responses; a
	// signature by any other key is rejected.
	IdPCertsPEM []string

	// Binding sends the AuthnRequest by redirect (default) or by an
	// auto-submitting POST form.
	Binding Binding
	// DeflatePOSTRequest deflates the AuthnRequest of the POST binding
	// before base64, as a stock node-saml application does (the bindings
	// spec says base64 only, and the SP sends it so by default). An IdP
	// that wants to serve such applications must inflate it.
	DeflatePOSTRequest bool
	// SignRequests signs AuthnRequests and LogoutRequests (RSA with
	// SignatureAlgorithm): a query signature in the redirect binding, an
	// enveloped XML signature in the POST binding. The metadata then carries the certificate and
	// AuthnRequestsSigned="true".
	SignRequests bool
	// SigningKey is the SP's key when SignRequests; nil makes a fresh one.
	SigningKey *KeyPair
	// SignatureAlgorithm is "sha256" (default), "sha512" or "sha1" (a
	// stock node-saml application's default) for RSA request signatures.
	SignatureAlgorithm string

	// NameIDFormat is the NameIDPolicy Format requested (and the metadata's
	// NameIDFormat). Empty sends a NameIDPolicy without a Format.
	NameIDFormat string
	ForceAuthn   bool
	IsPassive    bool
	// AuthnContext are the RequestedAuthnContext class refs (comparison
	// "exact"); nil keeps node-saml's default, PasswordProtectedTransport.
	AuthnContext                 []string
	DisableRequestedAuthnContext bool

	// By default the SP demands what a stock node-saml application demands:
	// a signature on the Response and one on the Assertion (node-saml's
	// wantAuthnResponseSigned and wantAssertionsSigned). AcceptUnsigned-
	// Response and AcceptUnsignedAssertion drop one demand each; with both,
	// node-saml still wants one signature that covers the assertion.
	AcceptUnsignedResponse  bool
	AcceptUnsignedAssertion bool
	// AllowIdPInitiated accepts responses without InResponseTo. Without it,
	// every response must answer an AuthnRequest this SP sent.
	AllowIdPInitiated bool
	// AcceptedClockSkew widens NotBefore/NotOnOrAfter checks; 0 is
	// node-saml's default (none), a negative value turns them off.
	AcceptedClockSkew time.Duration
}

// SP is a running node-saml service provider.
type SP struct {
	// BaseURL is http://127.0.0.1:PORT, without a trailing slash.
	BaseURL  string
	EntityID string
	// SigningKey is the SP's key pair when SignRequests, else nil.
	SigningKey *KeyPair

	metadata []byte
	client   *http.Client
}

// Result is what the SP made of the last response posted to /acs.
type Result struct {
	OK              bool                `json:"ok"`
	Error           string              `json:"error"`
	NameID          string              `json:"nameID"`
	NameIDFormat    string              `json:"nameIDFormat"`
	NameQualifier   string              `json:"nameQualifier"`
	SPNameQualifier string              `json:"spNameQualifier"`
	SessionIndex    string              `json:"sessionIndex"`
	Issuer          string              `json:"issuer"` // the Assertion's
	InResponseTo    string              `json:"inResponseTo"`
	RelayState      string              `json:"relayState"`
	Attributes      map[string][]string `json:"attributes"` // by Name
	// RawResponse is the Response XML, base64-encoded, kept even when
	// validation failed.
	RawResponse string    `json:"rawResponse"`
	ReceivedAt  time.Time `json:"receivedAt"`
}

// ResponseXML decodes RawResponse.
func (r Result) ResponseXML() ([]byte, error) {
	return base64.StdEncoding.DecodeString(r.RawResponse)
}

// LogoutResult is what the SP made of the last message posted or
// redirected to /slo.
type LogoutResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	// Kind is "LogoutResponse" (the end of an SP-initiated logout) or
	// "LogoutRequest" (IdP-initiated; the SP answers it by redirect).
	Kind    string  `json:"kind"`
	Binding Binding `json:"binding"`
	// Signed tells whether the message carried a signature at all: the
	// redirect binding's Signature parameter or an XML Signature. node-saml
	// verifies one when present but accepts unsigned redirect messages.
	Signed       bool      `json:"signed"`
	Status       string    `json:"status"` // a LogoutResponse's top StatusCode
	NameID       string    `json:"nameID"` // of a LogoutRequest
	SessionIndex string    `json:"sessionIndex"`
	Issuer       string    `json:"issuer"`
	RelayState   string    `json:"relayState"`
	Raw          string    `json:"raw"` // the message XML, base64
	ReceivedAt   time.Time `json:"receivedAt"`
}

// ErrNoResult is returned by Last and LastLogout before anything arrived.
var ErrNoResult = errors.New("samltest: the SP has received nothing at that endpoint yet")

// spProcessConfig is the JSON sp.js reads.
type spProcessConfig struct {
	EntityID                     string   `json:"entityID,omitempty"`
	IdPIssuer                    string   `json:"idpIssuer,omitempty"`
	IdPSSOURL                    string   `json:"idpSSOURL"`
	IdPSLOURL                    string   `json:"idpSLOURL,omitempty"`
	IdPCerts                     []string `json:"idpCerts"`
	AuthnRequestBinding          Binding  `json:"authnRequestBinding"`
	DeflatePOSTRequest           bool     `json:"deflatePostRequest"`
	SignRequests                 bool     `json:"signRequests"`
	PrivateKeyPEM                string   `json:"privateKeyPEM,omitempty"`
	CertPEM                      string   `json:"certPEM,omitempty"`
	SignatureAlgorithm           string   `json:"signatureAlgorithm,omitempty"`
	NameIDFormat                 string   `json:"nameIDFormat,omitempty"`
	ForceAuthn                   bool     `json:"forceAuthn"`
	IsPassive                    bool     `json:"isPassive"`
	AuthnContext                 []string `json:"authnContext,omitempty"`
	DisableRequestedAuthnContext bool     `json:"disableRequestedAuthnContext"`
	WantAssertionsSigned         bool     `json:"wantAssertionsSigned"`
	WantAuthnResponseSigned      bool     `json:"wantAuthnResponseSigned"`
	AllowIdPInitiated            bool     `json:"allowIdPInitiated"`
	AcceptedClockSkewMs          int64    `json:"acceptedClockSkewMs"`
	ExitOnStdinClose             bool     `json:"exitOnStdinClose"`
}

// startTimeout bounds how long node may take to print its address; it
// guards against a hung start, it is not a performance check.
const startTimeout = 60 * time.Second

// StartSP installs the SP's npm packages if needed, starts `node sp.js` on
// 127.0.0.1 and a free port, and stops it when the test ends. It fails the
// test (never skips it) when node, npm or the packages cannot be had.
func StartSP(t testing.TB, cfg SPConfig) *SP {
	t.Helper()
	if cfg.IdPSSOURL == "" {
		t.Fatal("samltest: SPConfig.IdPSSOURL is empty: give the IdP's SSO location (IdPMetadata.SPConfig fills it)")
	}
	if len(cfg.IdPCertsPEM) == 0 {
		t.Fatal("samltest: SPConfig.IdPCertsPEM is empty: give the IdP's signing certificate(s) (IdPMetadata.SPConfig fills them)")
	}
	switch cfg.SignatureAlgorithm {
	case "", "sha1", "sha256", "sha512":
	default:
		t.Fatalf("samltest: SPConfig.SignatureAlgorithm %q is none of sha1, sha256, sha512", cfg.SignatureAlgorithm)
	}
	switch cfg.Binding {
	case "":
		cfg.Binding = BindingRedirect
	case BindingRedirect, BindingPOST:
	default:
		t.Fatalf("samltest: SPConfig.Binding %q is neither %q nor %q", cfg.Binding, BindingRedirect, BindingPOST)
	}
	if cfg.SignRequests && cfg.SigningKey == nil {
		kp := NewKeyPair(t, "samltest SP")
		cfg.SigningKey = &kp
	}

	dir := spDir(t)
	ensureNodeModules(t, dir)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("samltest: node is not installed; the test SP needs Node.js 18 or later (Debian: apt-get install nodejs npm)")
	}

	pc := spProcessConfig{
		EntityID:                     cfg.EntityID,
		IdPIssuer:                    cfg.IdPEntityID,
		IdPSSOURL:                    cfg.IdPSSOURL,
		IdPSLOURL:                    cfg.IdPSLOURL,
		IdPCerts:                     cfg.IdPCertsPEM,
		AuthnRequestBinding:          cfg.Binding,
		DeflatePOSTRequest:           cfg.DeflatePOSTRequest,
		SignRequests:                 cfg.SignRequests,
		NameIDFormat:                 cfg.NameIDFormat,
		ForceAuthn:                   cfg.ForceAuthn,
		IsPassive:                    cfg.IsPassive,
		AuthnContext:                 cfg.AuthnContext,
		DisableRequestedAuthnContext: cfg.DisableRequestedAuthnContext,
		WantAssertionsSigned:         !cfg.AcceptUnsignedAssertion,
		WantAuthnResponseSigned:      !cfg.AcceptUnsignedResponse,
		AllowIdPInitiated:            cfg.AllowIdPInitiated,
		AcceptedClockSkewMs:          cfg.AcceptedClockSkew.Milliseconds(),
		ExitOnStdinClose:             true,
	}
	if cfg.AcceptedClockSkew < 0 {
		pc.AcceptedClockSkewMs = -1
	}
	if cfg.SignRequests {
		pc.PrivateKeyPEM = cfg.SigningKey.KeyPEM
		pc.CertPEM = cfg.SigningKey.CertPEM
		pc.SignatureAlgorithm = cfg.SignatureAlgorithm
		if pc.SignatureAlgorithm == "" {
			pc.SignatureAlgorithm = "sha256"
		}
	}
	cfgJSON, err := json.Marshal(pc)
	if err != nil {
		t.Fatalf("samltest: encoding the SP config: %v", err)
	}
	cfgPath := filepath.Join(t.TempDir(), "sp.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o600); err != nil {
		t.Fatalf("samltest: writing the SP config: %v", err)
	}

	cmd := exec.Command(node, filepath.Join(dir, "sp.js"), cfgPath)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatalf("samltest: %v", err)
	}
	cmd.Stdout = stdoutW
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		stdoutR.Close()
		stdoutW.Close()
		t.Fatalf("samltest: starting node sp.js: %v", err)
	}
	stdoutW.Close()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		<-exited
		stdoutR.Close()
		if t.Failed() {
			t.Logf("samltest SP log (node sp.js stderr):\n%s", stderr.String())
		}
	})

	type ready struct {
		BaseURL  string `json:"baseURL"`
		EntityID string `json:"entityID"`
	}
	readyc := make(chan ready, 1)
	go func() {
		sc := bufio.NewScanner(stdoutR)
		first := true
		for sc.Scan() {
			if first {
				first = false
				var r ready
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.BaseURL != "" {
					readyc <- r
				}
			}
		}
	}()

	var r ready
	select {
	case r = <-readyc:
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("samltest: node sp.js exited before it listened (%v):\n%s", err, stderr.String())
	case <-time.After(startTimeout):
		t.Fatalf("samltest: node sp.js printed no address within %s:\n%s", startTimeout, stderr.String())
	}

	sp := &SP{
		BaseURL:    r.BaseURL,
		EntityID:   r.EntityID,
		SigningKey: cfg.SigningKey,
		client:     &http.Client{Timeout: 30 * time.Second},
	}
	if !cfg.SignRequests {
		sp.SigningKey = nil
	}
	md, err := sp.get(context.Background(), "/metadata")
	if err != nil {
		t.Fatalf("samltest: reading the SP's metadata: %v\n%s", err, stderr.String())
	}
	sp.metadata = md
	return sp
}

// MetadataXML is the SP's metadata (EntityDescriptor with the ACS, the SLO
// endpoints in both bindings and, when it signs, its certificate).
func (sp *SP) MetadataXML() []byte { return bytes.Clone(sp.metadata) }

// MetadataURL is where the SP serves its metadata.
func (sp *SP) MetadataURL() string { return sp.BaseURL + "/metadata" }

// LoginURL starts SP-initiated SSO in a browser.
func (sp *SP) LoginURL() string { return sp.BaseURL + "/login" }

// LoginURLWithRelayState starts SP-initiated SSO carrying relayState.
//
// With SignRequests and the redirect binding, keep relayState to letters,
// digits and "-._*": node-saml signs the query as querystring.stringify
// encodes it but sends it as URLSearchParams encodes it, and the two differ
// for space and !'()~, so an IdP that checks the signature over the query
// as received (as the bindings spec says) rightly rejects it.
func (sp *SP) LoginURLWithRelayState(relayState string) string {
	return sp.LoginURL() + "?RelayState=" + url.QueryEscape(relayState)
}

// LogoutURL starts SP-initiated SLO for the session the last successful
// login left.
func (sp *SP) LogoutURL() string { return sp.BaseURL + "/logout" }

// ACSURL is the SP's AssertionConsumerService (HTTP-POST).
func (sp *SP) ACSURL() string { return sp.BaseURL + "/acs" }

// SLOURL is the SP's SingleLogoutService (HTTP-Redirect and HTTP-POST).
func (sp *SP) SLOURL() string { return sp.BaseURL + "/slo" }

// Last returns the SP's verdict on the last response posted to /acs, or
// ErrNoResult.
func (sp *SP) Last() (Result, error) {
	var r Result
	return r, sp.getJSON("/last", &r)
}

// LastLogout returns the SP's verdict on the last message to /slo, or
// ErrNoResult.
func (sp *SP) LastLogout() (LogoutResult, error) {
	var r LogoutResult
	return r, sp.getJSON("/last-logout", &r)
}

// PostResponse posts a base64 SAMLResponse to /acs as a browser would, and
// returns the SP's verdict: for replayed or tampered responses.
func (sp *SP) PostResponse(samlResponse, relayState string) (Result, error) {
	form := url.Values{"SAMLResponse": {samlResponse}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	resp, err := sp.client.PostForm(sp.ACSURL(), form)
	if err != nil {
		return Result{}, fmt.Errorf("posting to the SP's ACS: %w", err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // the verdict comes from /last
	resp.Body.Close()
	return sp.Last()
}

func (sp *SP) getJSON(path string, v any) error {
	resp, err := sp.client.Get(sp.BaseURL + path)
	if err != nil {
		return fmt.Errorf("asking the SP for %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ErrNoResult
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the SP answered %s with %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decoding the SP's %s: %w", path, err)
	}
	return nil
}

func (sp *SP) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sp.BaseURL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := sp.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// lockedBuffer collects a child's stderr while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
