package m365

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/internal/graphemu"
)

// TestThrottleStormRetryAfterHonoured: under 429 and 503 answers every
// operation ends up done; each retry waited what Retry-After said, and
// the emulator saw the throttled request again after the wait.
func TestThrottleStormRetryAfterHonoured(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	rec := &sleeps{}
	c.retry.sleep = rec.sleep
	ctx := t.Context()
	if err := c.Test(ctx); err != nil { // token and domains, outside the storm
		t.Fatal(err)
	}

	// Two 429s then success, for each kind of call.
	var ids []string
	ops := []struct {
		name string
		run  func() error
	}{
		{"create", func() error {
			a, err := c.Create(ctx, desired("contoso.com"), goodPassword)
			if err == nil {
				ids = append(ids, a.ID)
			}
			return err
		}},
		{"get", func() error { _, err := c.Get(ctx, ids[0]); return err }},
		{"update", func() error { g := "Stormy"; return c.Update(ctx, ids[0], connectors.Patch{GivenName: &g}) }},
		{"set password", func() error { return c.SetPassword(ctx, ids[0], goodPassword+"!") }},
		{"find", func() error { _, err := c.Find(ctx, "nobody@contoso.com", "x@y.example"); return ignoreNotFound(err) }},
		{"list", func() error { return c.List(ctx, func(connectors.Account) error { return nil }) }},
		{"changes", func() error { _, _, err := c.Changes(ctx, ""); return err }},
		{"delete", func() error { return c.Delete(ctx, ids[0]) }},
	}
	for _, op := range ops {
		before := len(rec.all())
		emu.ThrottleNext(2, 3*time.Second)
		if err := op.run(); err != nil {
			t.Errorf("%s under two 429s: %v", op.name, err)
			continue
		}
		if waits := rec.all()[before:]; !slices.Equal(waits, []time.Duration{3 * time.Second, 3 * time.Second}) {
			t.Errorf("%s waited %v, want 3s twice (the Retry-After)", op.name, waits)
		}
	}
	// The request log: every 429 is followed by the same request again.
	reqs := emu.Requests()
	throttled := 0
	for i, r := range reqs {
		if r.Status != http.StatusTooManyRequests {
			continue
		}
		throttled++
		if i+1 >= len(reqs) || reqs[i+1].Method != r.Method || reqs[i+1].Path != r.Path {
			t.Errorf("request %d (%s %s) was throttled and not sent again next", i, r.Method, r.Path)
		}
	}
	if throttled != 2*len(ops) {
		t.Errorf("the emulator throttled %d requests, want %d", throttled, 2*len(ops))
	}

	// 503 is waited out the same way.
	before := len(rec.all())
	emu.UnavailableNext(1, 2*time.Second)
	if _, err := c.Create(ctx, desired("contoso.com"), goodPassword); err != nil {
		t.Errorf("create after a 503: %v", err)
	}
	if waits := rec.all()[before:]; !slices.Equal(waits, []time.Duration{2 * time.Second}) {
		t.Errorf("after a 503 waited %v, want 2s", waits)
	}

	// Past three retries the call gives the wait to the framework, which
	// calls again later: the operation still gets done.
	before = len(rec.all())
	emu.ThrottleNext(4, time.Second)
	d := desired("contoso.com")
	_, err := c.Create(ctx, d, goodPassword)
	var ce *connectors.Error
	if connectors.KindOf(err) != connectors.KindThrottled || !asError(err, &ce) || ce.RetryAfter != time.Second {
		t.Fatalf("create under four 429s: %v, want throttled with RetryAfter 1s", err)
	}
	if waits := rec.all()[before:]; len(waits) != 3 {
		t.Errorf("waited %v before giving up, want three waits", waits)
	}
	if _, err := c.Create(ctx, d, goodPassword); err != nil {
		t.Errorf("create when the framework tries again: %v", err)
	}

	// A Retry-After beyond the minute a call may wait goes to the framework
	// at once.
	before = len(rec.all())
	emu.ThrottleNext(1, 5*time.Minute)
	_, err = c.Get(ctx, ids[0])
	if connectors.KindOf(err) != connectors.KindThrottled || !asError(err, &ce) || ce.RetryAfter != 5*time.Minute {
		t.Errorf("get under a 5-minute Retry-After: %v, want throttled for 5m", err)
	}
	if waits := rec.all()[before:]; len(waits) != 0 {
		t.Errorf("waited %v for a Retry-After longer than the budget", waits)
	}
}

// TestThrottleStormFramework: with 60% of requests throttled, calls that
// run out of retries hand the wait to the caller; a caller that waits as
// told and calls again, as the framework does, gets every operation done.
func TestThrottleStormFramework(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	rec := &sleeps{}
	c.retry.sleep = rec.sleep
	ctx := t.Context()
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	if err := emu.ThrottleFraction(0.6, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	var logins []string
	handedBack := 0
	for i := range 20 {
		d := desired("contoso.com")
		logins = append(logins, d.Login)
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			if _, err = c.Create(ctx, d, goodPassword); connectors.KindOf(err) != connectors.KindThrottled {
				break
			}
			var ce *connectors.Error
			if !errors.As(err, &ce) || ce.RetryAfter != 2*time.Second {
				t.Fatalf("throttled without Graph's Retry-After: %v", err)
			}
			handedBack++
		}
		if err != nil {
			t.Fatalf("create %d under the storm: %v", i, err)
		}
	}
	emu.ClearFaults()
	for _, login := range logins {
		if _, err := emu.User(tenantA, login); err != nil {
			t.Errorf("%s was not created: %v", login, err)
		}
	}
	for _, w := range rec.all() {
		if w != 2*time.Second {
			t.Errorf("waited %v, want the Retry-After of 2s", w)
		}
	}
	throttled := 0
	for _, r := range emu.Requests() {
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	// Each throttled request was followed by a wait: in the call, or in the
	// caller after the call handed it back.
	if got := len(rec.all()) + handedBack; got != throttled {
		t.Errorf("%d waits for %d throttled requests", got, throttled)
	}
	if throttled == 0 {
		t.Error("the storm throttled nothing")
	}
	t.Logf("%d requests throttled, %d waits in calls, %d handed back", throttled, len(rec.all()), handedBack)
}

// TestThrottleRealWait: the real timer waits for Retry-After (one second
// here) and the call then succeeds.
func TestThrottleRealWait(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	ctx := t.Context()
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	emu.ThrottleNext(1, time.Second)
	if _, err := c.Create(ctx, desired("contoso.com"), goodPassword); err != nil {
		t.Fatalf("create after one 429: %v", err)
	}
	if n := emu.RequestCount("POST", "/v1.0/users"); n != 2 {
		t.Errorf("%d POST /users, want 2 (one throttled, one retried)", n)
	}
	// A cancelled wait ends the call with the context's error.
	emu.ThrottleNext(1, 30*time.Second)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Create(cctx, desired("contoso.com"), goodPassword); err == nil || cctx.Err() == nil {
		t.Errorf("create with a context ending during the wait: %v", err)
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, connectors.ErrNotFound) {
		return nil
	}
	return err
}

func asError(err error, target **connectors.Error) bool { return errors.As(err, target) }

// TestTokenRequestsStayFew: MSAL's cache serves every call after the first
// sign-in of each tenant.
func TestTokenRequestsStayFew(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA, tenantB))
	ctx := t.Context()
	a, err := c.Create(ctx, desired("contoso.com"), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Create(ctx, desired("fabrikam.com"), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		id := a.ID
		if i%2 == 1 {
			id = b.ID
		}
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for _, tid := range []string{tenantA, tenantB} {
		if n := emu.TokenRequests(tid); n != 1 {
			t.Errorf("tenant %s: %d token requests over 52 calls, want 1", tid, n)
		}
	}
	// A token close to expiry is renewed by MSAL on its own.
	emu.SetTokenLifetime(time.Minute)
	emu.ExpireTokens()
	c2 := newConn(t, connConfig(emu, tenantA))
	for range 3 {
		if _, err := c2.Get(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := emu.TokenRequests(tenantA); n != 1+3 {
		t.Errorf("tenant A: %d token requests with one-minute tokens, want a new one per call (4 in all)", n)
	}
}

// TestWrongSecret: Test says the credentials are at fault, in the identity
// platform's words, naming the tenant and the secret to fix.
func TestWrongSecret(t *testing.T) {
	emu := startEmu(t, emuConfig())
	cfg := connConfig(emu, tenantA)
	cfg.Secrets[tenantA+".clientSecret"] = "not-the-secret"
	c := newConn(t, cfg)
	err := c.Test(t.Context())
	if connectors.KindOf(err) != connectors.KindAuth {
		t.Fatalf("Test with a wrong secret: %v (kind %v), want credentials", err, connectors.KindOf(err))
	}
	for _, want := range []string{"AADSTS7000215", "Invalid client secret", tenantA, tenantA + ".clientSecret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Test's error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Trace ID") {
		t.Errorf("Test's error carries the platform's trace noise: %q", err)
	}
	// Every operation says the same.
	if _, err := c.Get(t.Context(), tenantA+":00000000-0000-4000-8000-000000000000"); connectors.KindOf(err) != connectors.KindAuth {
		t.Errorf("Get with a wrong secret: %v, want credentials", err)
	}

	// An unknown tenant is also a credentials problem.
	cfg = connConfig(emu, "33333333-3333-4333-8333-333333333333")
	err = newConn(t, cfg).Test(t.Context())
	if connectors.KindOf(err) != connectors.KindAuth || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Test of an unknown tenant: %v, want credentials (tenant not found)", err)
	}
}

// TestUnreachable: no listener at the configured address.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	raw, _ := json.Marshal(Settings{Tenants: []TenantSettings{{TenantID: tenantA, ClientID: clientID, AuthorityHost: "https://" + addr, GraphURL: "https://" + addr + "/v1.0"}}})
	c := newConn(t, connectors.Config{Settings: raw, Secrets: map[string]string{tenantA + ".clientSecret": secret}})
	err = c.Test(t.Context())
	if connectors.KindOf(err) != connectors.KindUnreachable || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Test with nothing listening: %v (kind %v), want unreachable", err, connectors.KindOf(err))
	}
}

// TestCertificateCredential: a tenant may sign in with a certificate
// instead of a secret.
func TestCertificateCredential(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "headwater"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)

	cfg := emuConfig()
	cfg.Tenants[1].Apps = []graphemu.App{{ClientID: clientID, Certificates: []*x509.Certificate{cert}}}
	emu := startEmu(t, cfg)
	ccfg := connConfig(emu, tenantB)
	ccfg.Secrets = map[string]string{tenantB + ".certificate": string(pemData)}
	c := newConn(t, ccfg)
	if err := c.Test(t.Context()); err != nil {
		t.Fatalf("Test with a certificate: %v", err)
	}
	if _, err := c.Create(t.Context(), desired("fabrikam.com"), goodPassword); err != nil {
		t.Errorf("Create with a certificate: %v", err)
	}
}
