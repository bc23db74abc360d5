package graphemu

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// accessToken is an issued bearer token. Tokens are opaque random strings: Graph clients must
// not parse them, and an opaque token makes a client that does fail here first.
type accessToken struct {
	tenant   string
	clientID string
	expires  time.Time
}

const (
	graphResource      = "https://graph.microsoft.com"
	graphAppID         = "00000003-0000-0000-c000-000000000000"
	assertionJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// oauthError is the identity platform's error body (RFC 6749 plus Entra's fields).
type oauthError struct {
	status      int
	err         string
	code        int
	description string
}

func (e *Emulator) writeOAuthError(w http.ResponseWriter, oe *oauthError) {
	now := e.now().UTC()
	trace, corr := newObjectID(), newObjectID()
	ts := now.Format("2006-01-02 15:04:05Z")
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", oe.code, oe.description, trace, corr, ts)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(oe.status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":             oe.err,
		"error_description": desc,
		"error_codes":       []int{oe.code},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", oe.code),
	})
}

// serveIdentity answers the identity platform endpoints MSAL uses for client credentials.
func (e *Emulator) serveIdentity(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	rest := strings.Join(parts[1:], "/")
	switch {
	case rest == "v2.0/.well-known/openid-configuration" && r.Method == http.MethodGet:
		e.openIDConfiguration(w, parts[0])
	case rest == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		e.token(w, r, parts[0])
	case rest == "oauth2/v2.0/authorize":
		e.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, err: "unsupported_response_type", code: 70000,
			description: "graphemu only issues tokens through the client credentials grant."})
	default:
		http.NotFound(w, r)
	}
}

// resolveTenant finds a tenant named in an authority URL by id or by one of its domains.
// Caller holds e.mu.
func (e *Emulator) resolveTenant(name string) *tenant {
	name = strings.ToLower(name)
	if t, ok := e.tenants[name]; ok {
		return t
	}
	for _, t := range e.tenants {
		if t.hasDomain(name) {
			return t
		}
	}
	return nil
}

func errUnknownTenantOAuth(name string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, err: "invalid_tenant", code: 90002,
		description: fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", name)}
}

func (e *Emulator) openIDConfiguration(w http.ResponseWriter, name string) {
	e.mu.Lock()
	t := e.resolveTenant(name)
	e.mu.Unlock()
	if t == nil {
		e.writeOAuthError(w, errUnknownTenantOAuth(name))
		return
	}
	base := e.baseURL + "/" + t.id
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     e.baseURL + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "tid"},
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

// token is the client-credentials grant. Every POST is counted, successful or not, so tests
// can check that a client caches its token.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request, name string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	formErr := r.ParseForm()

	e.mu.Lock()
	t := e.resolveTenant(name)
	if t != nil {
		e.tokenRequests[t.id]++
	}
	var apps []App
	if t != nil {
		apps = t.apps
	}
	e.mu.Unlock()

	if t == nil {
		e.writeOAuthError(w, errUnknownTenantOAuth(name))
		return
	}
	if formErr != nil {
		e.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			description: "The request body must contain the following parameter: 'grant_type'."})
		return
	}
	f := r.PostForm
	if f.Get("grant_type") == "" {
		e.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			description: "The request body must contain the following parameter: 'grant_type'."})
		return
	}
	if f.Get("grant_type") != "client_credentials" {
		e.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, err: "unsupported_grant_type", code: 70003,
			description: fmt.Sprintf("The app requested an unsupported grant type '%s'.", f.Get("grant_type"))})
		return
	}
	clientID := f.Get("client_id")
	if clientID == "" {
		e.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			description: "The request body must contain the following parameter: 'client_id'."})
		return
	}
	var app *App
	for i := range apps {
		if strings.EqualFold(apps[i].ClientID, clientID) {
			app = &apps[i]
		}
	}
	if app == nil {
		e.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, err: "unauthorized_client", code: 700016,
			description: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, t.id)})
		return
	}
	if oe := checkScope(f.Get("scope")); oe != nil {
		e.writeOAuthError(w, oe)
		return
	}
	if oe := e.checkClientCredential(r, t, name, app); oe != nil {
		e.writeOAuthError(w, oe)
		return
	}

	tok := randomToken(32)
	e.mu.Lock()
	lifetime := e.tokenLifetime
	e.tokens[tok] = accessToken{tenant: t.id, clientID: app.ClientID, expires: e.now().Add(lifetime)}
	e.mu.Unlock()
	secs := int64(lifetime / time.Second)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
}

// checkScope accepts only Graph's .default scope, as the client-credentials flow requires.
func checkScope(scope string) *oauthError {
	if strings.TrimSpace(scope) == "" {
		return &oauthError{status: http.StatusBadRequest, err: "invalid_request", code: 900144,
			description: "The request body must contain the following parameter: 'scope'."}
	}
	resources := 0
	for _, s := range strings.Fields(scope) {
		switch strings.ToLower(s) {
		case "openid", "profile", "offline_access", "email":
			// MSAL always adds the OpenID scopes; Entra ignores them in this flow.
			continue
		}
		resources++
		res, ok := strings.CutSuffix(s, "/.default")
		if !ok {
			return &oauthError{status: http.StatusBadRequest, err: "invalid_scope", code: 1002012,
				description: fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", s)}
		}
		if !strings.EqualFold(strings.TrimSuffix(res, "/"), graphResource) && !strings.EqualFold(res, graphAppID) {
			return &oauthError{status: http.StatusBadRequest, err: "invalid_resource", code: 500011,
				description: fmt.Sprintf("The resource principal named %s was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", res)}
		}
	}
	if resources == 0 {
		return &oauthError{status: http.StatusBadRequest, err: "invalid_scope", code: 1002012,
			description: fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
	}
	return nil
}

// checkClientCredential verifies a client secret (in the form or HTTP Basic) or a client
// assertion signed by one of the app's registered certificates.
func (e *Emulator) checkClientCredential(r *http.Request, t *tenant, name string, app *App) *oauthError {
	f := r.PostForm
	secret := f.Get("client_secret")
	if secret == "" {
		if _, pw, ok := r.BasicAuth(); ok {
			secret = pw
		}
	}
	assertion := f.Get("client_assertion")
	switch {
	case secret != "":
		if app.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
			return &oauthError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000215,
				description: fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)}
		}
		return nil
	case assertion != "":
		if f.Get("client_assertion_type") != assertionJWTBearer {
			return &oauthError{status: http.StatusBadRequest, err: "invalid_request", code: 50027,
				description: "The client_assertion_type parameter must be '" + assertionJWTBearer + "'."}
		}
		audiences := []string{
			e.baseURL + "/" + t.id + "/oauth2/v2.0/token",
			e.baseURL + "/" + strings.ToLower(name) + "/oauth2/v2.0/token",
		}
		return verifyClientAssertion(assertion, app, audiences, e.now())
	}
	return &oauthError{status: http.StatusUnauthorized, err: "invalid_client", code: 7000218,
		description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}
