// Package samlidp is Headwater's SAML 2.0 identity provider: metadata, SSO
// over the HTTP-Redirect and HTTP-POST bindings (SP- and IdP-initiated),
// and single logout. It is built on github.com/crewjam/saml's message types
// and request parsing, with what that library leaves out done here: SHA-256
// signatures chosen per SP (response, assertion or both), ForceAuthn and
// IsPassive, the NameID format the SP asks for, verification of signed
// AuthnRequests, request-ID replay protection across replicas, a login
// window independent of the assertion's validity, SLO, and a metadata that
// can publish the next signing certificate ahead of a rollover.
//
// Sessions and the login page belong to the portal; the IdP asks it
// through the Sessions interface.
package samlidp

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/internal/web"
)

// Sessions is what the IdP needs from the portal.
type Sessions interface {
	// Current returns the browser's session and user, or
	// authority.ErrNoSession.
	Current(r *http.Request) (*authority.Session, *authority.User, error)
	// Require returns the session, or sends the browser to sign in (and
	// back to next) and returns ok false. freshAfter, when set, demands a
	// sign-in after that time (ForceAuthn).
	Require(w http.ResponseWriter, r *http.Request, next string, freshAfter time.Time) (*authority.Session, *authority.User, bool)
}

// Config is what an IdP needs.
type Config struct {
	Auth      *authority.Authority
	Sessions  Sessions
	Pages     *web.Pages
	PublicURL *url.URL
	Logger    *slog.Logger
	// KeyFile and CertFile load the signing key pair from PEM files;
	// empty means a key generated at first start and kept in the store.
	KeyFile, CertFile string
	// AssertionValidity is how long an assertion may be presented to the
	// SP (default 5 minutes).
	AssertionValidity time.Duration
	// LoginWindow is how long a user may take on the login page (password,
	// second factor, forced password change) before the SP's request
	// expires (default 30 minutes). It is independent of the assertion's
	// validity.
	LoginWindow time.Duration
}

// IdP serves /saml/.
type IdP struct {
	auth     *authority.Authority
	sessions Sessions
	pages    *web.Pages
	log      *slog.Logger
	base     *url.URL
	keys     *keyring
	validity time.Duration
	window   time.Duration
	nameKey  []byte
	mux      *http.ServeMux

	spMu    sync.Mutex
	spCache map[string]cachedSP
}

// Name ID formats.
const (
	FormatEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	FormatPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	FormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	FormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
)

// formatNames maps the short names used in configuration to URIs.
var formatNames = map[string]string{
	"email": FormatEmail, "persistent": FormatPersistent, "transient": FormatTransient, "unspecified": FormatUnspecified,
}

// New builds the IdP, creating its signing key at first start.
func New(ctx context.Context, cfg Config) (*IdP, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AssertionValidity <= 0 {
		cfg.AssertionValidity = 5 * time.Minute
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 30 * time.Minute
	}
	if cfg.PublicURL == nil {
		return nil, errors.New("samlidp: the public URL is required")
	}
	keys, err := newKeyring(ctx, cfg.Auth, cfg.KeyFile, cfg.CertFile, cfg.PublicURL.Host)
	if err != nil {
		return nil, err
	}
	nameKey, err := cfg.Auth.Secret(ctx, "saml-nameid-key", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	i := &IdP{auth: cfg.Auth, sessions: cfg.Sessions, pages: cfg.Pages, log: cfg.Logger, base: cfg.PublicURL,
		keys: keys, validity: cfg.AssertionValidity, window: cfg.LoginWindow, nameKey: nameKey, spCache: map[string]cachedSP{}}
	m := http.NewServeMux()
	m.HandleFunc("GET /saml/metadata", i.metadata)
	m.HandleFunc("GET /saml/sso", i.sso)
	m.HandleFunc("POST /saml/sso", i.sso)
	m.HandleFunc("GET /saml/sso/resume", i.resume)
	m.HandleFunc("GET /saml/idp-initiated", i.idpInitiated)
	m.HandleFunc("GET /saml/slo", i.slo)
	m.HandleFunc("POST /saml/slo", i.slo)
	m.HandleFunc("/saml/", func(w http.ResponseWriter, r *http.Request) {
		i.fail(w, http.StatusNotFound, "Page not found", "There is no SAML endpoint at this address.", "")
	})
	i.mux = m
	return i, nil
}

func (i *IdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			i.log.Error("panic serving a SAML request", "path", r.URL.Path, "panic", p)
			i.fail(w, http.StatusInternalServerError, "Something went wrong", "Headwater could not handle this request.", "")
		}
	}()
	i.mux.ServeHTTP(w, r)
}

// precheck refuses AuthnRequests that crewjam's Validate would crash on
// (found by FuzzSSO: a request without an Issuer dereferences nil) or
// that cannot be answered: no ID, no Issuer.
func precheck(buf []byte) error {
	var ar saml.AuthnRequest
	if err := xml.Unmarshal(buf, &ar); err != nil {
		return fmt.Errorf("not a SAML AuthnRequest: %w", err)
	}
	switch {
	case ar.Issuer == nil || strings.TrimSpace(ar.Issuer.Value) == "":
		return errors.New("the request names no Issuer (the application's entity ID)")
	case ar.ID == "":
		return errors.New("the request has no ID")
	}
	return nil
}

// EntityID is the IdP's entity ID: the metadata URL.
func (i *IdP) EntityID() string { return i.url("/saml/metadata") }

func (i *IdP) url(path string) string {
	u := *i.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = ""
	return u.String()
}

func (i *IdP) fail(w http.ResponseWriter, status int, title, msg, detail string) {
	i.pages.Error(w, status, title, msg, detail)
}

// Metadata returns the IdP's metadata XML.
func (i *IdP) Metadata(ctx context.Context) ([]byte, error) {
	cur, next, err := i.keys.keys(ctx)
	if err != nil {
		return nil, err
	}
	kds := []saml.KeyDescriptor{signingKD(cur)}
	if next != nil {
		kds = append(kds, signingKD(next))
	}
	no := false
	ed := saml.EntityDescriptor{
		EntityID:      i.EntityID(),
		ValidUntil:    time.Now().UTC().Add(7 * 24 * time.Hour),
		CacheDuration: time.Hour,
		IDPSSODescriptors: []saml.IDPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{
				RoleDescriptor: saml.RoleDescriptor{
					ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
					KeyDescriptors:             kds,
				},
				SingleLogoutServices: []saml.Endpoint{
					{Binding: saml.HTTPRedirectBinding, Location: i.url("/saml/slo")},
					{Binding: saml.HTTPPostBinding, Location: i.url("/saml/slo")},
				},
				NameIDFormats: []saml.NameIDFormat{FormatEmail, FormatPersistent, FormatTransient, FormatUnspecified},
			},
			WantAuthnRequestsSigned: &no,
			SingleSignOnServices: []saml.Endpoint{
				{Binding: saml.HTTPRedirectBinding, Location: i.url("/saml/sso")},
				{Binding: saml.HTTPPostBinding, Location: i.url("/saml/sso")},
			},
		}},
	}
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), b...), nil
}

func signingKD(s *signer) saml.KeyDescriptor {
	return saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
		X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(s.cert.Raw)}}}}}
}

func (i *IdP) metadata(w http.ResponseWriter, r *http.Request) {
	b, err := i.Metadata(r.Context())
	if err != nil {
		i.log.Error("SAML metadata", "err", err)
		http.Error(w, "metadata unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}

// pending is an AuthnRequest waiting for the user to sign in.
type pending struct {
	Request    []byte    `json:"request"` // the AuthnRequest XML
	RelayState string    `json:"relayState,omitempty"`
	Received   time.Time `json:"received"`
	ForceAuthn bool      `json:"forceAuthn,omitempty"`
}

// maxSAMLMessage caps an incoming SAMLRequest (encoded) and its inflated
// XML: metadata-sized messages are far smaller.
const maxSAMLMessage = 256 << 10

// sso receives an AuthnRequest (Redirect or POST binding). It checks the
// request at once (SP, ACS, signature, replay), parks it in the store and
// continues at /saml/sso/resume, so the browser returns with a top-level
// GET that carries the SameSite=Lax session cookie, whichever binding and
// replica it arrived by.
func (i *IdP) sso(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLMessage)
	if r.Method == http.MethodGet && r.URL.Query().Get("SAMLRequest") == "" {
		i.fail(w, http.StatusBadRequest, "No sign-in request", "This address is where applications send sign-in requests; open the application you want to use instead.", "")
		return
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			i.fail(w, http.StatusBadRequest, "The sign-in request cannot be read", "The request was too large or malformed.", err.Error())
			return
		}
		// node-saml (and SPs built on it) DEFLATE requests sent with the
		// POST binding, against the spec; accept both.
		if b, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLRequest")); err == nil && len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] != '<' {
			if x, err := inflate(b); err == nil {
				r.PostForm.Set("SAMLRequest", base64.StdEncoding.EncodeToString(x))
			}
		}
	}
	req, err := saml.NewIdpAuthnRequest(i.samlIDP(r.Context()), r)
	if err == nil {
		err = precheck(req.RequestBuffer)
	}
	if err != nil {
		i.fail(w, http.StatusBadRequest, "The sign-in request cannot be read", "The application sent a request Headwater could not decode.", err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		i.requestError(w, err)
		return
	}
	sp, entry, err := i.serviceProvider(r.Context(), req.ServiceProviderMetadata.EntityID)
	if err != nil {
		i.requestError(w, err)
		return
	}
	if err := i.checkRequestSignature(r, req.RequestBuffer, entry, "SAMLRequest"); err != nil {
		i.fail(w, http.StatusForbidden, "The sign-in request is not signed correctly",
			fmt.Sprintf("The application %s must sign its requests, and this one's signature could not be verified.", entry.displayName()), err.Error())
		return
	}
	// A request ID is answered once, on any replica.
	replayKey := digest(sp.EntityID + "\x00" + req.Request.ID)
	if err := i.auth.ClaimState(r.Context(), "saml-req", replayKey, saml.MaxIssueDelay+i.window); err != nil {
		if errors.Is(err, authority.ErrStateClaimed) {
			i.fail(w, http.StatusBadRequest, "This sign-in request was already used", "Go back to the application and start the sign-in again.", "")
			return
		}
		i.unavailable(w, err)
		return
	}
	force := req.Request.ForceAuthn != nil && *req.Request.ForceAuthn
	// A usable session: signed in, no forced sign-in asked, no password
	// change pending. A browser that arrives with one (the Redirect binding
	// is a top-level GET, so the SameSite=Lax cookie comes along) is
	// answered at once, without parking the request.
	s, u, err := i.sessions.Current(r)
	usable := err == nil && s != nil && !force && (u.Password == nil || !u.Password.MustChange)
	if usable {
		i.respond(w, r, req, entry, s, u)
		return
	}
	if req.Request.IsPassive != nil && *req.Request.IsPassive {
		// No interaction allowed: NoPassive.
		i.sendStatus(w, r, req, entry, saml.StatusResponder, saml.StatusNoPassive, "the user is not signed in")
		return
	}
	id := randomID()
	raw, _ := json.Marshal(pending{Request: req.RequestBuffer, RelayState: req.RelayState, Received: req.Now, ForceAuthn: force})
	if err := i.auth.PutState(r.Context(), "saml-authn", id, raw, i.window); err != nil {
		i.unavailable(w, err)
		return
	}
	http.Redirect(w, r, "/saml/sso/resume?"+url.Values{"r": {id}}.Encode(), http.StatusSeeOther)
}

// resume answers a parked AuthnRequest once the browser has a session.
func (i *IdP) resume(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("r")
	raw, err := i.auth.GetState(r.Context(), "saml-authn", id)
	if err != nil {
		if errors.Is(err, authority.ErrStateGone) {
			i.fail(w, http.StatusBadRequest, "This sign-in request expired",
				fmt.Sprintf("Sign-in requests are valid for %s. Go back to the application and start again.", i.window), "")
			return
		}
		i.unavailable(w, err)
		return
	}
	var p pending
	if err := json.Unmarshal(raw, &p); err != nil {
		i.unavailable(w, err)
		return
	}
	var fresh time.Time
	if p.ForceAuthn {
		fresh = p.Received
	}
	s, u, ok := i.sessions.Require(w, r, r.URL.RequestURI(), fresh)
	if !ok {
		return
	}
	if _, err := i.auth.TakeState(r.Context(), "saml-authn", id); err != nil {
		i.fail(w, http.StatusBadRequest, "This sign-in request was already answered", "Go back to the application and start again.", "")
		return
	}
	// Rebuild the request as it was checked when it arrived: its issue
	// time is judged against the arrival, so time spent on the login page
	// does not count against the SP's clock.
	req := &saml.IdpAuthnRequest{IDP: i.samlIDP(r.Context()), HTTPRequest: r, RequestBuffer: p.Request, RelayState: p.RelayState, Now: p.Received}
	if err := req.Validate(); err != nil {
		i.requestError(w, err)
		return
	}
	req.Now = time.Now().UTC()
	_, entry, err := i.serviceProvider(r.Context(), req.ServiceProviderMetadata.EntityID)
	if err != nil {
		i.requestError(w, err)
		return
	}
	i.respond(w, r, req, entry, s, u)
}

// idpInitiated signs the user in to an SP without a request from it (the
// portal's tiles).
func (i *IdP) idpInitiated(w http.ResponseWriter, r *http.Request) {
	entityID := r.URL.Query().Get("sp")
	_, entry, err := i.serviceProvider(r.Context(), entityID)
	if err != nil {
		i.requestError(w, err)
		return
	}
	s, u, ok := i.sessions.Require(w, r, r.URL.RequestURI(), time.Time{})
	if !ok {
		return
	}
	acs := entry.defaultACS()
	if acs == nil {
		i.fail(w, http.StatusBadRequest, "This application cannot be opened from here",
			fmt.Sprintf("%s has no assertion consumer service with the HTTP-POST binding in its metadata.", entry.displayName()), "")
		return
	}
	req := &saml.IdpAuthnRequest{IDP: i.samlIDP(r.Context()), HTTPRequest: r, Now: time.Now().UTC(),
		ServiceProviderMetadata: entry.meta, SPSSODescriptor: entry.spsso, ACSEndpoint: acs,
		RelayState: r.URL.Query().Get("RelayState")}
	i.respond(w, r, req, entry, s, u)
}

// respond issues the signed response for a signed-in user, if they may
// use the SP, and posts it to the ACS.
func (i *IdP) respond(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest, entry *cachedSP, s *authority.Session, u *authority.User) {
	ctx := r.Context()
	if ok, err := i.auth.MayUseServiceProvider(ctx, u, entry.sp); err != nil {
		i.unavailable(w, err)
		return
	} else if !ok {
		i.log.Info("SAML sign-in refused: not in the SP's groups", "user", u.UserName, "sp", entry.sp.EntityID)
		i.fail(w, http.StatusForbidden, "You do not have access to this application",
			fmt.Sprintf("%s is open to members of certain groups only. Ask your administrator for access.", entry.displayName()), "")
		return
	}
	if req.ACSEndpoint == nil || req.ACSEndpoint.Binding != saml.HTTPPostBinding {
		i.fail(w, http.StatusBadRequest, "This application asked for an unsupported binding",
			"Headwater sends responses with the HTTP-POST binding; the application's metadata must list an HTTP-POST assertion consumer service.", "")
		return
	}
	format, err := i.nameIDFormat(req, entry)
	if err != nil {
		i.sendStatus(w, r, req, entry, saml.StatusRequester, saml.StatusInvalidNameIDPolicy, err.Error())
		return
	}
	assertion, err := i.assertion(ctx, req, entry, s, u, format)
	if err != nil {
		var me *mappingError
		if errors.As(err, &me) {
			i.fail(w, http.StatusForbidden, "Your account cannot sign in to this application", me.Error(), "")
			return
		}
		i.unavailable(w, err)
		return
	}
	resp, err := i.buildResponse(ctx, req, entry, assertion, saml.StatusSuccess, "", "")
	if err != nil {
		i.unavailable(w, err)
		return
	}
	if err := i.auth.NoteSessionSP(ctx, s, entry.sp.EntityID); err != nil {
		i.log.Warn("noting the SP on the session", "err", err)
	}
	i.log.Info("SAML sign-in", "user", u.UserName, "sp", entry.sp.EntityID, "nameid_format", format)
	i.post(w, entry, req.ACSEndpoint.Location, "SAMLResponse", resp, req.RelayState)
}

// sendStatus answers the SP with a non-success status (no assertion).
func (i *IdP) sendStatus(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest, entry *cachedSP, top, second, msg string) {
	if req.ACSEndpoint == nil || req.ACSEndpoint.Binding != saml.HTTPPostBinding {
		i.fail(w, http.StatusBadRequest, "Sign-in failed", msg, "")
		return
	}
	resp, err := i.buildResponse(r.Context(), req, entry, nil, top, second, msg)
	if err != nil {
		i.unavailable(w, err)
		return
	}
	i.post(w, entry, req.ACSEndpoint.Location, "SAMLResponse", resp, req.RelayState)
}

func (i *IdP) post(w http.ResponseWriter, entry *cachedSP, action, field string, msg []byte, relay string) {
	fields := []web.Field{{Name: field, Value: base64.StdEncoding.EncodeToString(msg)}}
	if relay != "" {
		fields = append(fields, web.Field{Name: "RelayState", Value: relay})
	}
	i.pages.AutoPost(w, entry.displayName(), action, fields)
}

func (i *IdP) unavailable(w http.ResponseWriter, err error) {
	i.log.Error("SAML request failed", "err", err)
	i.fail(w, http.StatusServiceUnavailable, "Something went wrong", "Headwater could not complete the sign-in. Try again in a moment.", "")
}

// requestError shows why a request was refused, in words for the user and
// the administrator.
func (i *IdP) requestError(w http.ResponseWriter, err error) {
	var ue *unknownSPError
	if errors.As(err, &ue) {
		i.fail(w, http.StatusForbidden, "Unknown application",
			fmt.Sprintf("The application %q is not registered with Headwater, so it cannot sign you in. An administrator can register it with `headwater sp add`.", ue.entityID), "")
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "cannot handle request from unknown service provider") {
		i.fail(w, http.StatusForbidden, "Unknown application", "The application that sent you here is not registered with Headwater, so it cannot sign you in.", msg)
		return
	}
	i.fail(w, http.StatusBadRequest, "The sign-in request was refused", "The application sent a sign-in request Headwater cannot accept. Go back and try again; if it keeps happening, tell your administrator.", msg)
}

func randomID() string {
	b := make([]byte, 20)
	rand.Read(b)
	return "id-" + hex.EncodeToString(b)
}

func digest(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

// inflate undoes the HTTP-Redirect binding's DEFLATE, with a size cap.
func inflate(b []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxSAMLMessage+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxSAMLMessage {
		return nil, errors.New("SAML message too large")
	}
	return out, nil
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(b)
	fw.Close()
	return buf.Bytes()
}

func elementBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	return doc.WriteToBytes()
}
