package samlidp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/headwater/headwater/authority"
)

// The IdP's signing key is RSA-2048 with SHA-256 signatures (crewjam's
// ECDSA signatures are mis-encoded, and SHA-1 is its default). It is made
// at first start and kept sealed in the store, so every replica signs with
// the same key; or it is loaded from files. A second ("next") key can be
// published in the metadata ahead of a rollover, then promoted.

const (
	secretCurrent = "saml-idp-signing"
	secretNext    = "saml-idp-signing-next"
)

// signer is one key pair.
type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// keyring holds the current and (optional) next signing keys, re-read from
// the store every keyTTL so a rollover done on one replica reaches all.
type keyring struct {
	auth     *authority.Authority
	fromFile *signer
	host     string

	mu      sync.Mutex
	current *signer
	next    *signer
	read    time.Time
}

const keyTTL = 30 * time.Second

func newKeyring(ctx context.Context, a *authority.Authority, keyFile, certFile, host string) (*keyring, error) {
	k := &keyring{auth: a, host: host}
	if keyFile != "" || certFile != "" {
		s, err := loadSignerFiles(keyFile, certFile)
		if err != nil {
			return nil, err
		}
		k.fromFile = s
	}
	if _, _, err := k.keys(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

func loadSignerFiles(keyFile, certFile string) (*signer, error) {
	if keyFile == "" || certFile == "" {
		return nil, errors.New("SAML signing: set both the key file and the certificate file, or neither")
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("SAML signing key: %w", err)
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("SAML signing certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(cb, kb)
	if err != nil {
		return nil, fmt.Errorf("SAML signing key pair: %w", err)
	}
	rk, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("SAML signing key must be RSA (ECDSA signatures are not accepted by common SPs)")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, err
	}
	return &signer{key: rk, cert: cert}, nil
}

// keys returns the current and next signers.
func (k *keyring) keys(ctx context.Context) (cur, next *signer, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil && time.Since(k.read) < keyTTL {
		return k.current, k.next, nil
	}
	if k.fromFile != nil {
		k.current = k.fromFile
	} else {
		raw, err := k.auth.Secret(ctx, secretCurrent, func() ([]byte, error) { return newSignerPEM(k.host) })
		if err != nil {
			return nil, nil, fmt.Errorf("SAML signing key: %w", err)
		}
		if k.current, err = parseSignerPEM(raw); err != nil {
			return nil, nil, err
		}
	}
	k.next = nil
	if raw, err := k.auth.LookupSecret(ctx, secretNext); err == nil {
		if s, err := parseSignerPEM(raw); err == nil {
			k.next = s
		}
	} else if !errors.Is(err, authority.ErrStateGone) {
		return nil, nil, err
	}
	k.read = time.Now()
	return k.current, k.next, nil
}

func (k *keyring) forget() {
	k.mu.Lock()
	k.read = time.Time{}
	k.mu.Unlock()
}

// newSignerPEM makes an RSA-2048 key and a self-signed certificate valid
// for ten years, PEM-encoded one after the other.
func newSignerPEM(host string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Headwater SAML IdP " + host, Organization: []string{"Headwater"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}

func parseSignerPEM(raw []byte) (*signer, error) {
	s := &signer{}
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			s.key = k
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			s.cert = c
		}
	}
	if s.key == nil || s.cert == nil {
		return nil, errors.New("stored SAML signing key is incomplete")
	}
	return s, nil
}

// signEnveloped returns the enveloped XML signature of el (RSA-SHA256,
// exclusive canonicalisation), for the caller to place where the SAML
// schema wants it (after the Issuer).
func (s *signer) signEnveloped(el *etree.Element) (*etree.Element, error) {
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{s.cert.Raw}, PrivateKey: s.key, Leaf: s.cert}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	kids := signed.ChildElements()
	return kids[len(kids)-1], nil
}

// signQuery signs the query string of the HTTP-Redirect binding.
func (s *signer) signQuery(signed string) ([]byte, error) {
	h := crypto.SHA256.New()
	h.Write([]byte(signed))
	return rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, h.Sum(nil))
}

// Rollover support for the admin API and CLI.

// PrepareNextKey makes the next signing key (if there is none) and returns
// its certificate, which the metadata publishes from now on.
func (i *IdP) PrepareNextKey(ctx context.Context) (*x509.Certificate, error) {
	if i.keys.fromFile != nil {
		return nil, errors.New("the SAML signing key comes from files: replace the files to roll it over")
	}
	raw, err := i.auth.Secret(ctx, secretNext, func() ([]byte, error) { return newSignerPEM(i.keys.host) })
	if err != nil {
		return nil, err
	}
	i.keys.forget()
	s, err := parseSignerPEM(raw)
	if err != nil {
		return nil, err
	}
	return s.cert, nil
}

// PromoteNextKey makes the next key the signing key. The old certificate
// is no longer published; SPs must have fetched the metadata meanwhile.
func (i *IdP) PromoteNextKey(ctx context.Context) (*x509.Certificate, error) {
	if i.keys.fromFile != nil {
		return nil, errors.New("the SAML signing key comes from files: replace the files to roll it over")
	}
	raw, err := i.auth.LookupSecret(ctx, secretNext)
	if err != nil {
		return nil, errors.New("there is no next key: prepare one first, publish the metadata, then promote it")
	}
	s, err := parseSignerPEM(raw)
	if err != nil {
		return nil, err
	}
	if err := i.auth.PutSecret(ctx, secretCurrent, raw); err != nil {
		return nil, err
	}
	if err := i.auth.DeleteSecret(ctx, secretNext); err != nil {
		return nil, err
	}
	i.keys.forget()
	return s.cert, nil
}
