package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/portal"
	"github.com/headwater/headwater/samlidp"
)

// webFront holds the portal and the SAML IdP, built together once the
// store answers (they read their keys from it).
type webFront struct {
	mu     sync.Mutex
	portal *portal.Portal
	idp    *samlidp.IdP
}

func (f *webFront) init(ctx context.Context, cfg config.Config, auth *authority.Authority, public *url.URL, log *slog.Logger) (*portal.Portal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.portal != nil {
		return f.portal, nil
	}
	p, err := portal.New(ctx, portal.Config{Auth: auth, PublicURL: public, SessionTTL: cfg.SessionTTL.D(), Logger: log.With("component", "portal")})
	if err != nil {
		return nil, err
	}
	idp, err := samlidp.New(ctx, samlidp.Config{Auth: auth, Sessions: p, Pages: p.Pages(), PublicURL: public,
		Logger: log.With("component", "saml"), KeyFile: cfg.SAML.KeyFile, CertFile: cfg.SAML.CertFile,
		AssertionValidity: cfg.SAML.AssertionValidity.D(), LoginWindow: cfg.SAML.LoginWindow.D()})
	if err != nil {
		return nil, fmt.Errorf("SAML IdP: %w", err)
	}
	f.portal, f.idp = p, idp
	return p, nil
}

// publicURL is the configured public URL, or scheme://<bound HTTP address>.
func (s *Server) publicURL(scheme string) (*url.URL, error) {
	raw := s.cfg.PublicURL
	if raw == "" {
		s.mu.Lock()
		raw = scheme + "://" + s.httpAddr
		s.mu.Unlock()
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("publicURL %q is not a URL", raw)
	}
	return u, nil
}

// connectorHTTPClient is the HTTP client connectors use: the system's CAs
// plus caFile (a private CA of a target, or of a test emulator).
func connectorHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("connectors.caFile: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("connectors.caFile %s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}
