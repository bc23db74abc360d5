package ldapfront_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/ldapfront"
)

func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}, MinVersion: tls.VersionTLS12}, pool
}

// TestStartTLSAndLDAPS: with a certificate, StartTLS upgrades a plain
// connection and LDAPS is TLS from the start; with RequireTLS, a bind
// before StartTLS is refused with 13.
func TestStartTLSAndLDAPS(t *testing.T) {
	f := setup(t)
	serverTLS, pool := testCert(t)
	s, err := ldapfront.New(f.auth, ldapfront.Config{BaseDN: base, TLS: serverTLS, RequireTLS: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	secure, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(ctx, plain, false)
	go s.Serve(ctx, secure, true)
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	c, err := ldap.DialURL("ldap://" + plain.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("alice", "Alice-Pass-2026"); code(err) != ldap.LDAPResultConfidentialityRequired {
		t.Fatalf("bind before StartTLS with RequireTLS: %v, want 13", err)
	}
	if err := c.StartTLS(clientTLS); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c.Bind("alice", "Alice-Pass-2026"); err != nil {
		t.Fatalf("bind after StartTLS: %v", err)
	}
	if who, err := c.WhoAmI(nil); err != nil || who.AuthzID != "dn:uid=alice,ou=people,"+base {
		t.Fatalf("WhoAmI over StartTLS: %+v %v", who, err)
	}
	if err := c.StartTLS(clientTLS); err == nil {
		t.Fatal("a second StartTLS succeeded")
	}

	lc, err := ldap.DialURL("ldaps://"+secure.Addr().String(), ldap.DialWithTLSConfig(clientTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if err := lc.Bind("uid=alice,ou=people,"+base, "Alice-Pass-2026"); err != nil {
		t.Fatalf("bind over LDAPS: %v", err)
	}
}
