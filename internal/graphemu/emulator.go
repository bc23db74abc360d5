package graphemu

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config describes the tenants an emulator serves and how it behaves. The zero value of every
// optional field picks the behaviour Microsoft documents.
type Config struct {
	// Addr is the TCP address to listen on. Empty means "127.0.0.1:0": loopback, any free port.
	Addr string
	// Tenants are the directories served; at least one is required.
	Tenants []TenantConfig
	// TokenLifetime is how long an issued access token is valid and the expires_in returned
	// with it. Zero means one hour, like Entra's default.
	TokenLifetime time.Duration
	// DeltaPageSize is the number of users per page of a delta round. Zero means 100. Graph
	// does not let callers choose it ($top is not supported on users delta).
	DeltaPageSize int
	// DeltaTokenLifetime is how long delta and skip tokens stay usable. Zero means seven days,
	// the documented limit for directory objects.
	DeltaTokenLifetime time.Duration
	// Logger receives one debug record per request. Nil discards.
	Logger *slog.Logger
	// Now is the emulator's clock (token expiry, replication delay, delta token lifetime).
	// Nil means time.Now; tests that must not sleep pass a settable clock.
	Now func() time.Time
	// Seed makes fractional fault injection reproducible.
	Seed uint64
}

// TenantConfig is one Entra tenant: its id (as used in the authority URL), its domains, the
// applications that may obtain tokens for it, and users present from the start.
type TenantConfig struct {
	// ID is the tenant id, usually a GUID. The authority URL may name the tenant by this id or
	// by any of its domains; ids are compared without regard to case, as MSAL lowercases them.
	ID string
	// Domains of the tenant. If none is given, "<ID>.onmicrosoft.com" is added, verified and
	// default, as Entra creates it with every tenant.
	Domains []Domain
	// Apps are the app registrations (client credentials) accepted by the token endpoint.
	Apps []App
	// Users are created when the emulator starts and again on Reset.
	Users []NewUser
}

// Domain is a domain of a tenant. Only verified domains may appear in a userPrincipalName.
type Domain struct {
	Name     string
	Verified bool
	Default  bool
}

// App is an app registration's credentials: a client secret, certificates for client
// assertions, or both.
type App struct {
	ClientID     string
	ClientSecret string
	// Certificates whose keys may sign client assertions (private_key_jwt).
	Certificates []*x509.Certificate
}

// Emulator is a running Graph emulator. Its methods are safe for concurrent use; tests call
// the accessors while a connector talks to the emulator over HTTPS.
type Emulator struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	baseURL string

	caPEM  []byte
	pool   *x509.CertPool
	client *http.Client
	srv    *http.Server
	done   chan struct{}

	faults faultSet

	mu            sync.Mutex
	tenants       map[string]*tenant // by lowercased id
	tokens        map[string]accessToken
	tokenLifetime time.Duration
	tokenRequests map[string]int // by tenant id
	requests      []RequestRecord
	ecDelay       time.Duration
	deltaStates   map[string]*deltaState
}

// Start generates a CA and a server certificate for 127.0.0.1 and localhost, listens on
// cfg.Addr and serves until Close. The context bounds only the start.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	if err := validateConfig(cfg); err != nil {
		return nil, fmt.Errorf("graphemu: %w", err)
	}
	e := &Emulator{
		cfg:           cfg,
		log:           cfg.Logger,
		now:           cfg.Now,
		tokenLifetime: cfg.TokenLifetime,
		done:          make(chan struct{}),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.tokenLifetime == 0 {
		e.tokenLifetime = time.Hour
	}
	e.faults.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	if err := e.resetState(); err != nil {
		return nil, fmt.Errorf("graphemu: %w", err)
	}

	ca, err := newCA(e.now())
	if err != nil {
		return nil, fmt.Errorf("graphemu: %w", err)
	}
	leaf, err := ca.issueServerCert(e.now(), []string{"127.0.0.1", "::1", "localhost"})
	if err != nil {
		return nil, fmt.Errorf("graphemu: %w", err)
	}
	e.caPEM = ca.pem
	e.pool = x509.NewCertPool()
	e.pool.AddCert(ca.cert)

	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("graphemu: listen on %s: %w", addr, err)
	}
	e.baseURL = "https://" + ln.Addr().String()

	e.srv = &http.Server{
		Handler:           e,
		TLSConfig:         serverTLSConfig(leaf),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	e.client = newTrustingClient(e.pool)
	go func() {
		defer close(e.done)
		// The certificate is in TLSConfig, so the file arguments stay empty.
		if err := e.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("graphemu: serve", "err", err)
		}
	}()
	e.log.Info("graphemu: listening", "url", e.baseURL)
	return e, nil
}

func validateConfig(cfg Config) error {
	if len(cfg.Tenants) == 0 {
		return errors.New("at least one tenant is required")
	}
	seen := map[string]bool{}
	for _, t := range cfg.Tenants {
		id := strings.ToLower(strings.TrimSpace(t.ID))
		if id == "" || strings.ContainsAny(id, "/?#") {
			return fmt.Errorf("tenant id %q is not usable in an authority URL", t.ID)
		}
		if id == "v1.0" || id == "common" || id == "organizations" || id == "consumers" {
			return fmt.Errorf("tenant id %q is reserved", t.ID)
		}
		if seen[id] {
			return fmt.Errorf("tenant %q is configured twice", t.ID)
		}
		seen[id] = true
		for _, a := range t.Apps {
			if a.ClientID == "" {
				return fmt.Errorf("tenant %q: an app needs a client id", t.ID)
			}
		}
	}
	if cfg.DeltaPageSize < 0 || cfg.TokenLifetime < 0 || cfg.DeltaTokenLifetime < 0 {
		return errors.New("page sizes and lifetimes cannot be negative")
	}
	return nil
}

// Close stops the server. Connections in flight are cut.
func (e *Emulator) Close() error {
	err := e.srv.Close()
	<-e.done
	if err != nil {
		return fmt.Errorf("graphemu: close: %w", err)
	}
	return nil
}

// URL is the emulator's origin, https://127.0.0.1:PORT, serving both the identity platform
// (/{tenant}/...) and Graph (/v1.0/...).
func (e *Emulator) URL() string { return e.baseURL }

// GraphURL is the Graph v1.0 base URL, what the SDK calls the base URL of its request adapter.
func (e *Emulator) GraphURL() string { return e.baseURL + "/v1.0" }

// AuthorityURL is the authority to give MSAL for a tenant: https://127.0.0.1:PORT/<tenant>.
func (e *Emulator) AuthorityURL(tenantID string) string {
	return e.baseURL + "/" + strings.ToLower(tenantID)
}

// CACertPEM is the PEM encoding of the CA that signed the server certificate.
func (e *Emulator) CACertPEM() []byte { return append([]byte(nil), e.caPEM...) }

// CertPool holds the emulator's CA, for clients built elsewhere.
func (e *Emulator) CertPool() *x509.CertPool { return e.pool.Clone() }

// Client is an HTTP client that trusts the emulator's CA (and nothing else).
func (e *Emulator) Client() *http.Client { return e.client }

// ServeHTTP dispatches identity-platform and Graph requests; they share one origin so a single
// trusted certificate covers both.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1.0" || strings.HasPrefix(r.URL.Path, "/v1.0/") {
		e.serveGraph(w, r)
		return
	}
	e.serveIdentity(w, r)
}
