package graphemu_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/headwater/headwater/internal/graphemu"
)

var graphScopes = []string{"https://graph.microsoft.com/.default"}

func newMSAL(t *testing.T, emu *graphemu.Emulator, tenant, client string, cred confidential.Credential) confidential.Client {
	t.Helper()
	c, err := confidential.New(emu.AuthorityURL(tenant), client, cred,
		confidential.WithHTTPClient(emu.Client()),
		confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	return c
}

// TestMSALClientSecret proves the token flow against the real MSAL for Go: discovery, the
// client-credentials POST, the token cache, and renewal once a token is near expiry.
func TestMSALClientSecret(t *testing.T) {
	emu := start(t, baseConfig())
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newMSAL(t, emu, tenantA, clientID, cred)

	res, err := c.AcquireTokenByCredential(ctx, graphScopes)
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	if _, err := c.AcquireTokenByCredential(ctx, graphScopes); err != nil {
		t.Fatal(err)
	}
	if n := emu.TokenRequests(tenantA); n != 1 {
		t.Errorf("%d token requests for two acquisitions, want 1 (MSAL caches)", n)
	}

	req, _ := http.NewRequest(http.MethodGet, emu.GraphURL()+"/domains", nil)
	req.Header.Set("Authorization", "Bearer "+res.AccessToken)
	resp, err := emu.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Graph with MSAL's token: %d", resp.StatusCode)
	}

	// MSAL renews tokens that expire within five minutes, so a short lifetime forces a new
	// request on every acquisition: that is how tests exercise renewal without waiting.
	emu.SetTokenLifetime(time.Minute)
	c2 := newMSAL(t, emu, tenantA, clientID, cred)
	for range 2 {
		if _, err := c2.AcquireTokenByCredential(ctx, graphScopes); err != nil {
			t.Fatal(err)
		}
	}
	if n := emu.TokenRequests(tenantA); n != 3 {
		t.Errorf("%d token requests, want 3 (short-lived tokens are not reused)", n)
	}

	bad, _ := confidential.NewCredFromSecret("wrong")
	if _, err := newMSAL(t, emu, tenantA, clientID, bad).AcquireTokenByCredential(ctx, graphScopes); err == nil {
		t.Error("a wrong secret got a token")
	}
}

func TestMSALCertificate(t *testing.T) {
	cert, key := selfSignedRSA(t)
	cfg := baseConfig()
	cfg.Tenants[1].Apps = []graphemu.App{{ClientID: "cert-app", Certificates: []*x509.Certificate{cert}}}
	emu := start(t, cfg)
	cred, err := confidential.NewCredFromCert([]*x509.Certificate{cert}, key)
	if err != nil {
		t.Fatal(err)
	}
	// The authority names the tenant by domain here; MSAL lowercases it, the emulator resolves it.
	c := newMSAL(t, emu, "Fabrikam.com", "cert-app", cred)
	if _, err := c.AcquireTokenByCredential(context.Background(), graphScopes); err != nil {
		t.Fatalf("certificate credential: %v", err)
	}

	other, otherKey := selfSignedRSA(t)
	wrong, _ := confidential.NewCredFromCert([]*x509.Certificate{other}, otherKey)
	if _, err := newMSAL(t, emu, tenantB, "cert-app", wrong).AcquireTokenByCredential(context.Background(), graphScopes); err == nil {
		t.Error("an unregistered certificate got a token")
	}
}
