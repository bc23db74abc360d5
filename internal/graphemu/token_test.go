package graphemu_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/internal/graphemu"
)

func TestTLSIsVerifiable(t *testing.T) {
	emu := start(t, baseConfig())

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.CACertPEM()) {
		t.Fatal("CACertPEM holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		u, _ := url.Parse(emu.URL())
		u.Host = host + ":" + u.Port()
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := c.Get(u.String() + "/" + tenantA + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("GET via %s with the CA from CACertPEM: %v", host, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("via %s: status %d", host, resp.StatusCode)
		}
	}

	// Without the CA, verification must fail: the certificate is not self-trusted.
	_, err := (&http.Client{}).Get(emu.URL() + "/" + tenantA + "/v2.0/.well-known/openid-configuration")
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Errorf("default client error = %v, want x509.UnknownAuthorityError", err)
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	emu := start(t, baseConfig())
	resp, err := emu.Client().Get(emu.AuthorityURL(tenantA) + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"authorization_endpoint", "token_endpoint", "issuer"} {
		v, _ := doc[field].(string)
		if !strings.HasPrefix(v, emu.URL()+"/"+tenantA+"/") {
			t.Errorf("%s = %q, want it under %s/%s/", field, v, emu.URL(), tenantA)
		}
	}

	// A tenant named by one of its domains resolves to the same tenant.
	resp2, err := emu.Client().Get(emu.URL() + "/contoso.com/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		t.Errorf("discovery by domain: status %d", resp2.StatusCode)
	}

	resp3, err := emu.Client().Get(emu.URL() + "/nosuchtenant/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp3.Body.Close()
	var e map[string]any
	_ = json.NewDecoder(resp3.Body).Decode(&e)
	if resp3.StatusCode != http.StatusBadRequest || e["error"] != "invalid_tenant" || !strings.HasPrefix(e["error_description"].(string), "AADSTS90002:") {
		t.Errorf("unknown tenant: status %d body %v", resp3.StatusCode, e)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	emu := start(t, baseConfig())
	tests := []struct {
		name       string
		edit       func(url.Values)
		tenant     string
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"ok", func(url.Values) {}, tenantA, 200, "", 0},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, tenantA, 401, "invalid_client", 7000215},
		{"no credential", func(f url.Values) { f.Del("client_secret") }, tenantA, 401, "invalid_client", 7000218},
		{"unknown client", func(f url.Values) { f.Set("client_id", "00000000-0000-0000-0000-000000000000") }, tenantA, 400, "unauthorized_client", 700016},
		{"scope without .default", func(f url.Values) { f.Set("scope", "User.ReadWrite.All") }, tenantA, 400, "invalid_scope", 1002012},
		{"other resource", func(f url.Values) { f.Set("scope", "https://management.azure.com/.default") }, tenantA, 400, "invalid_resource", 500011},
		{"no scope", func(f url.Values) { f.Del("scope") }, tenantA, 400, "invalid_request", 900144},
		{"OpenID scopes only", func(f url.Values) { f.Set("scope", "openid offline_access profile") }, tenantA, 400, "invalid_scope", 1002012},
		{"OpenID scopes beside .default, as MSAL sends", func(f url.Values) {
			f.Set("scope", "https://graph.microsoft.com/.default openid offline_access profile")
		}, tenantA, 200, "", 0},
		{"wrong grant", func(f url.Values) { f.Set("grant_type", "password") }, tenantA, 400, "unsupported_grant_type", 70003},
		{"unknown tenant", func(url.Values) {}, "nosuchtenant", 400, "invalid_tenant", 90002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := secretForm()
			tc.edit(f)
			status, body := postForm(t, emu, tc.tenant, f)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tc.wantStatus, body)
			}
			if tc.wantError == "" {
				if body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"] != float64(3600) {
					t.Errorf("token response %v", body)
				}
				return
			}
			if body["error"] != tc.wantError {
				t.Errorf("error %v, want %s", body["error"], tc.wantError)
			}
			codes, _ := body["error_codes"].([]any)
			if len(codes) != 1 || codes[0] != tc.wantCode {
				t.Errorf("error_codes %v, want [%v]", codes, tc.wantCode)
			}
			if d, _ := body["error_description"].(string); !strings.HasPrefix(d, "AADSTS") {
				t.Errorf("error_description %q does not start with AADSTS", d)
			}
		})
	}
	if got := emu.TokenRequests(tenantA); got != len(tests)-1 {
		t.Errorf("TokenRequests(A) = %d, want %d", got, len(tests)-1)
	}
}

func TestTokenLifetimeAndExpiry(t *testing.T) {
	emu, clk := startClocked(t, func(c *graphemu.Config) { c.TokenLifetime = 10 * time.Minute })
	status, body := postForm(t, emu, tenantA, secretForm())
	if status != 200 || body["expires_in"] != float64(600) {
		t.Fatalf("token: %d %v", status, body)
	}
	a := &api{t: t, emu: emu, tok: body["access_token"].(string)}
	if r := a.get("/users"); r.status != 200 {
		t.Fatalf("fresh token: %d %v", r.status, r.body)
	}
	clk.Advance(10 * time.Minute)
	a.get("/users").wantError(t, 401, "InvalidAuthenticationToken", "Lifetime validation failed")

	emu.SetTokenLifetime(30 * time.Second)
	_, body = postForm(t, emu, tenantA, secretForm())
	if body["expires_in"] != float64(30) {
		t.Errorf("after SetTokenLifetime: expires_in %v, want 30", body["expires_in"])
	}
}

// selfSignedRSA makes a certificate and key like one uploaded to an app registration.
func selfSignedRSA(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "connector"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// signAssertion builds a client assertion by hand, as MSAL does (PS256, x5t#S256).
func signAssertion(t *testing.T, cert *x509.Certificate, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	thumb := sha256.Sum256(cert.Raw)
	hdr, _ := json.Marshal(map[string]any{"alg": alg, "typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(thumb[:])})
	pl, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(pl)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestClientAssertion(t *testing.T) {
	cert, key := selfSignedRSA(t)
	otherCert, otherKey := selfSignedRSA(t)
	cfg := baseConfig()
	cfg.Tenants[0].Apps = append(cfg.Tenants[0].Apps, graphemu.App{ClientID: "cert-app", Certificates: []*x509.Certificate{cert}})
	emu := start(t, cfg)
	aud := emu.AuthorityURL(tenantA) + "/oauth2/v2.0/token"
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"aud": aud, "iss": "cert-app", "sub": "cert-app", "jti": "x",
			"nbf": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		}
		edit(c)
		return c
	}
	noEdit := func(map[string]any) {}
	tests := []struct {
		name      string
		assertion string
		status    int
		code      float64
	}{
		{"PS256 like MSAL", signAssertion(t, cert, key, "PS256", claims(noEdit)), 200, 0},
		{"RS256", signAssertion(t, cert, key, "RS256", claims(noEdit)), 200, 0},
		{"signed by an unregistered key", signAssertion(t, otherCert, otherKey, "PS256", claims(noEdit)), 401, 700027},
		{"thumbprint of registered cert, other key", signAssertion(t, cert, otherKey, "PS256", claims(noEdit)), 401, 700027},
		{"expired", signAssertion(t, cert, key, "PS256", claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), 401, 700024},
		{"wrong audience", signAssertion(t, cert, key, "PS256", claims(func(c map[string]any) { c["aud"] = "https://login.microsoftonline.com/x/oauth2/v2.0/token" })), 401, 700016},
		{"wrong issuer", signAssertion(t, cert, key, "PS256", claims(func(c map[string]any) { c["iss"] = "someone" })), 401, 700021},
		{"not a JWT", "abc.def", 400, 50027},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postForm(t, emu, tenantA, url.Values{
				"grant_type":            {"client_credentials"},
				"client_id":             {"cert-app"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {tc.assertion},
				"scope":                 {"https://graph.microsoft.com/.default"},
			})
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.code != 0 {
				if codes, _ := body["error_codes"].([]any); len(codes) != 1 || codes[0] != tc.code {
					t.Errorf("error_codes %v, want [%v]", body["error_codes"], tc.code)
				}
			}
		})
	}
}

func TestGraphRejectsBadTokens(t *testing.T) {
	emu := start(t, baseConfig())
	good := newAPI(t, emu, tenantA)
	tests := []struct {
		name string
		tok  string
		msg  string
	}{
		{"no token", "", "Access token is empty."},
		{"unknown token", "not-a-token", "CompactToken parsing failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &api{t: t, emu: emu, tok: tc.tok}
			r := a.get("/users")
			r.wantError(t, 401, "InvalidAuthenticationToken", tc.msg)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if r := good.get("/users"); r.status != 200 {
		t.Fatalf("good token: %d", r.status)
	}
	emu.ExpireTokens()
	good.get("/users").wantError(t, 401, "InvalidAuthenticationToken", "the token is expired")
}
