package local

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/headwater/headwater/authority"
)

// The agent CA signs the machines' client certificates and the agent
// listener's server certificate. Its key is made once and kept sealed in
// the store, so every replica issues and checks the same certificates.

// CA is the agent certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// LoadCA reads (or creates, the first time) the agent CA.
func LoadCA(ctx context.Context, a *authority.Authority) (*CA, error) {
	raw, err := a.Secret(ctx, "agent-ca", newCA)
	if err != nil {
		return nil, fmt.Errorf("agent CA: %w", err)
	}
	ca := &CA{}
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			ca.key, err = x509.ParseECPrivateKey(b.Bytes)
		case "CERTIFICATE":
			ca.cert, err = x509.ParseCertificate(b.Bytes)
			ca.pem = pem.EncodeToMemory(b)
		}
		if err != nil {
			return nil, fmt.Errorf("agent CA: %w", err)
		}
	}
	if ca.key == nil || ca.cert == nil {
		return nil, errors.New("agent CA: the stored key pair is incomplete")
	}
	return ca, nil
}

func newCA() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "Headwater agent CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// PEM is the CA certificate.
func (c *CA) PEM() []byte { return c.pem }

// Pool trusts the CA alone.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// Fingerprint is the SHA-256 of the CA certificate, in hex: enrolment
// tokens carry its first 16 characters so an agent can check the server it
// enrols with before trusting it.
func (c *CA) Fingerprint() string {
	s := sha256.Sum256(c.cert.Raw)
	return hex.EncodeToString(s[:])
}

// IssueClient signs a machine's CSR (RSA, 2048 bits or more) with the
// machine's name as common name, valid for a year.
func (c *CA) IssueClient(csrPEM []byte, machine string) (*x509.Certificate, []byte, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, nil, errors.New("the CSR is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("the CSR cannot be parsed: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("the CSR's signature is wrong: %w", err)
	}
	if k, ok := csr.PublicKey.(interface{ Size() int }); !ok || k.Size() < 256 {
		return nil, nil, errors.New("the agent's key must be RSA of 2048 bits or more (passwords are encrypted to it)")
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: machine, Organization: []string{"Headwater agents"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ServerTLS is the agent listener's TLS configuration: a server
// certificate from the CA for hosts, and client certificates checked
// against the CA when given (enrolment comes without one).
func (c *CA) ServerTLS(hosts []string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "Headwater agent listener"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key}},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    c.Pool(),
	}, nil
}
