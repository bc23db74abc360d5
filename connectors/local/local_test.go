package local

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/connectors"
)

func csr(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestCAAndTokens: one CA for every replica (sealed in the store), client
// certificates only for RSA keys, tokens that work once and name the CA.
func TestCAAndTokens(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	ctx := context.Background()
	ca, err := LoadCA(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadCA(ctx, a)
	if err != nil || again.Fingerprint() != ca.Fingerprint() {
		t.Fatal("a second load made another CA")
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert, _, err := ca.IssueClient(csr(t, rsaKey), "m1")
	if err != nil || cert.Subject.CommonName != "m1" {
		t.Fatalf("issue: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not chain to the CA: %v", err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, _, err := ca.IssueClient(csr(t, ecKey), "m1"); err == nil || !strings.Contains(err.Error(), "RSA") {
		t.Fatalf("an ECDSA key was accepted: %v", err)
	}
	if _, _, err := ca.IssueClient([]byte("junk"), "m1"); err == nil {
		t.Fatal("junk CSR accepted")
	}

	if _, err := NewEnrolmentToken(ctx, a, ca, "nope", time.Hour); !errors.Is(err, authority.ErrNotFound) {
		t.Fatalf("token for a missing directory: %v", err)
	}
	if _, err := a.PutDirectory(ctx, &authority.Directory{Name: "m1", Kind: KindName}, nil); err != nil {
		t.Fatal(err)
	}
	tok, err := NewEnrolmentToken(ctx, a, ca, "m1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || !strings.HasSuffix(tok, "."+ca.Fingerprint()[:16]) {
		t.Fatalf("token %q does not carry the CA fingerprint", tok)
	}
}

// TestConnOffline: a machine that never polled, or stopped polling, makes
// every change wait (throttled: never a dead letter); passwords are
// encrypted to the machine's certificate key.
func TestConnOffline(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	ctx := context.Background()
	if _, err := a.PutDirectory(ctx, &authority.Directory{Name: "m2", Kind: KindName}, nil); err != nil {
		t.Fatal(err)
	}
	c := &Conn{auth: a, machine: "m2", wait: time.Second}
	if err := c.Test(ctx); connectors.KindOf(err) != connectors.KindAuth {
		t.Fatalf("Test of a machine without an agent: %v", err)
	}
	err := c.SetPassword(ctx, "alice", "Some-Password-2026")
	if connectors.KindOf(err) != connectors.KindAuth && connectors.KindOf(err) != connectors.KindThrottled {
		t.Fatalf("SetPassword without an agent: %v", err)
	}
	// Enrolled and seen long ago: throttled with the machine's name.
	ca, _ := LoadCA(ctx, a)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, certPEM, _ := ca.IssueClient(csr(t, key), "m2")
	a.PutState(ctx, nsCert, "m2", certPEM, time.Hour)
	a.PutState(ctx, nsSeen, "m2", []byte(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)), time.Hour)
	err = c.Update(ctx, "alice", connectors.Patch{Enabled: new(bool)})
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.KindThrottled || !strings.Contains(ce.Message, "m2 is offline") {
		t.Fatalf("change for an offline machine: %v", err)
	}
	// The sealed password opens with the machine's key only.
	sealed, err := c.sealFor(ctx, "Sealed-Secret-2026")
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(sealed)
	pt, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, key, ct, []byte("headwater-agent-password"))
	if err != nil || string(pt) != "Sealed-Secret-2026" {
		t.Fatalf("unsealing with the machine's key: %q %v", pt, err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, other, ct, []byte("headwater-agent-password")); err == nil {
		t.Fatal("another key opened the password")
	}
	// Local accounts are not created here.
	if _, err := c.Create(ctx, connectors.Desired{Login: "bob"}, "x"); connectors.KindOf(err) != connectors.KindRejected {
		t.Fatalf("Create: %v", err)
	}
}
