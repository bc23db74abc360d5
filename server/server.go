// Package server wires Headwater together: configuration, the sealing key,
// etcd (embedded or external), the store and authority, the HTTP listener
// with its probes, metrics and admin API, and a clean shutdown.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/limiter"
	"github.com/headwater/headwater/authority/password"
	"github.com/headwater/headwater/authority/seal"
	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/embedded"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/connectors/local"
	"github.com/headwater/headwater/scim"
	"github.com/headwater/headwater/server/api"
)

// Options are the parts of a run that are not configuration.
type Options struct {
	// ReadyFile, when set, receives {"http_addr", "ldap_addr",
	// "ldaps_addr"} as JSON once every listener is up and the index is
	// loaded.
	ReadyFile string
	Logger    *slog.Logger
}

// Server is one Headwater process.
type Server struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	httpAddr  string
	ldapAddr  string
	ldapsAddr string

	conns     *connectors.Manager
	agents    agents
	agentAddr string
}

// ConfigError is a configuration problem found while starting; the CLI
// exits 2 on it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New checks the configuration and returns a Server ready to Run.
func New(cfg config.Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{err}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AdminPassword != "" {
		if err := policy(cfg).Check(cfg.AdminPassword, authority.AdminUserName); err != nil {
			return nil, &ConfigError{fmt.Errorf("config: adminPassword (HEADWATER_ADMIN_PASSWORD): %w", err)}
		}
	}
	return &Server{cfg: cfg, opts: opts, log: opts.Logger}, nil
}

func policy(cfg config.Config) password.Policy {
	p := cfg.PasswordPolicy
	return password.Policy{MinLength: p.MinLength, MaxLength: p.MaxLength, MinClasses: p.MinClasses, RejectCommon: p.RejectCommon}
}

// HTTPAddr is the bound HTTP address, once Run has bound it.
func (s *Server) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpAddr
}

// Run starts everything and serves until ctx ends, then shuts down in
// order: stop accepting, drain requests, stop the watch, close etcd.
func (s *Server) Run(ctx context.Context) error {
	keys, created, err := seal.LoadOrCreate(s.cfg.SecretKeyPath())
	if err != nil {
		return fmt.Errorf("sealing key: %w", err)
	}
	if created {
		s.log.Warn("generated a new sealing key; back it up: without it, sealed secrets cannot be opened", "path", s.cfg.SecretKeyPath())
	}

	cli, etcdErr, closeEtcd, err := s.startEtcd(ctx)
	if err != nil {
		return err
	}
	defer closeEtcd()

	st := store.Open(cli, store.Options{
		Prefix:         s.cfg.Etcd.Prefix,
		RequestTimeout: s.cfg.Etcd.RequestTimeout.D(),
		Logger:         s.log.With("component", "store"),
	})
	defer st.Close()

	lim := s.cfg.Limiter
	auth := authority.New(authority.Config{
		Store:      st,
		Keyring:    keys,
		Policy:     policy(s.cfg),
		Limiter:    limiter.New(limiter.Config{AccountFree: lim.AccountFree, AddrFree: lim.AddrFree, Base: lim.Base.D(), Max: lim.Max.D()}, nil),
		AdminToken: s.cfg.AdminToken,
		Logger:     s.log.With("component", "authority"),
	})

	tlsCfg, err := serverTLS(s.cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on httpAddr %s: %w", s.cfg.HTTPAddr, err)
	}
	scheme := "http"
	if s.cfg.TLS.HTTPS {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	s.mu.Lock()
	s.httpAddr = ln.Addr().String()
	s.mu.Unlock()
	s.log.Info("HTTP listening", "http_addr", s.httpAddr, "scheme", scheme)

	metrics := newMetrics(st)
	publicURL, err := s.publicURL(scheme)
	if err != nil {
		ln.Close()
		return err
	}
	webLog := s.log.With("component", "portal")
	front := &webFront{}
	portalH := &lazy{log: webLog, what: "the portal", build: func(ctx context.Context) (http.Handler, error) {
		return front.init(ctx, s.cfg, auth, publicURL, s.log)
	}}
	samlH := &lazy{log: webLog, what: "the SAML IdP", build: func(ctx context.Context) (http.Handler, error) {
		if _, err := front.init(ctx, s.cfg, auth, publicURL, s.log); err != nil {
			return nil, err
		}
		return front.idp, nil
	}}
	adminAPI := api.New(auth, s.log.With("component", "api"))
	adminAPI.SetAgents(func(ctx context.Context) (*local.CA, error) { return s.agents.getCA(ctx, auth) }, s.AgentURL)
	if !s.cfg.Connectors.Disabled {
		hc, err := connectorHTTPClient(s.cfg.Connectors.CAFile)
		if err != nil {
			ln.Close()
			return err
		}
		s.conns = connectors.NewManager(connectors.ManagerConfig{Auth: auth, Logger: s.log.With("component", "connectors"), HTTPClient: hc,
			FeedEvery: s.cfg.Connectors.FeedEvery.D()})
		adminAPI.SetConnectors(s.conns)
		metrics.reg.MustRegister(s.conns.Collectors()...)
	}
	adminAPI.SetSAML(func(ctx context.Context) (api.SAML, error) {
		if _, err := front.init(ctx, s.cfg, auth, publicURL, s.log); err != nil {
			return nil, err
		}
		return front.idp, nil
	}, publicURL)
	h := newHandler(handlerDeps{
		auth:    auth,
		api:     adminAPI,
		scim:    scim.New(auth, s.log.With("component", "scim"), s.cfg.PublicURL),
		web:     portalH,
		saml:    samlH,
		metrics: metrics,
		log:     s.log,
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stopLDAP, err := s.startLDAP(auth, tlsCfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopLDAP()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	// The index loads while HTTP already answers (readyz says "loading").
	readyErr := make(chan error, 1)
	go func() { readyErr <- s.becomeReady(ctx, st, auth) }()

	var runErr error
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err := <-serveErr:
			runErr, done = fmt.Errorf("HTTP server: %w", err), true
		case err := <-etcdErr:
			runErr, done = fmt.Errorf("embedded etcd failed: %w", err), true
		case err := <-readyErr:
			if err != nil {
				runErr, done = err, true
			}
			readyErr = nil
		}
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("HTTP drain incomplete", "err", err)
	}
	return runErr
}

// becomeReady waits for the index, bootstraps the admin user and writes
// the ready file.
func (s *Server) becomeReady(ctx context.Context, st *store.Etcd, auth *authority.Authority) error {
	if err := st.WaitReady(ctx); err != nil {
		return nil // shutting down
	}
	for {
		created, err := auth.Bootstrap(ctx, s.cfg.AdminPassword)
		if err == nil {
			if created {
				s.log.Info("created the built-in admin user", "password_set", s.cfg.AdminPassword != "")
				if s.cfg.AdminPassword == "" && s.cfg.AdminToken == "" {
					if err := s.writeBootstrapToken(ctx, auth); err != nil {
						return err
					}
				}
			}
			break
		}
		if !errors.Is(err, store.ErrUnavailable) {
			return fmt.Errorf("bootstrap: %w", err)
		}
		s.log.Warn("bootstrap waits for etcd", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	if r := s.cfg.AuditRetention.D(); r > 0 {
		go s.pruneAudit(ctx, st, r)
	}
	if s.conns != nil {
		go s.conns.Run(ctx)
	}
	if err := s.startAgents(ctx, auth); err != nil {
		return fmt.Errorf("agent listener: %w", err)
	}
	if s.opts.ReadyFile != "" {
		if err := writeReadyFile(s.opts.ReadyFile, s.addrs()); err != nil {
			return fmt.Errorf("ready file: %w", err)
		}
	}
	s.log.Info("ready", "http_addr", s.HTTPAddr())
	// Loading decoded every record once; hand that garbage back to the OS
	// rather than carrying it as RSS until the scavenger gets to it. At a
	// million users this takes seconds, so it runs after the ready file.
	go debug.FreeOSMemory()
	return nil
}

// writeBootstrapToken makes an admin token on a first start without
// HEADWATER_ADMIN_TOKEN or HEADWATER_ADMIN_PASSWORD, so that the operator
// of `headwater serve` on defaults can reach the admin API. The secret is
// written to a 0600 file in the data directory, never to the log.
func (s *Server) writeBootstrapToken(ctx context.Context, auth *authority.Authority) error {
	secret, _, err := auth.CreateToken(authority.WithActor(ctx, authority.Actor{Name: "system:bootstrap"}), "bootstrap", []string{authority.ScopeAdmin}, 0)
	if err != nil {
		return fmt.Errorf("creating the bootstrap token: %w", err)
	}
	path := filepath.Join(s.cfg.DataDir, "bootstrap-token")
	if err := writeFileAtomic(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the bootstrap token: %w", err)
	}
	s.log.Warn("no admin token or password was configured: an admin API token was written to a file readable only by this user; use it as HEADWATER_TOKEN, create your own tokens, then revoke 'bootstrap' (headwater token list / revoke) and delete the file", "path", path)
	return nil
}

// pruneAudit deletes audit events past the retention, hourly. Every
// replica may run it: deleting a range twice is harmless.
func (s *Server) pruneAudit(ctx context.Context, st *store.Etcd, retention time.Duration) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := st.PruneAudit(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning the audit log failed", "err", err)
		case n > 0:
			s.log.Info("pruned the audit log", "events", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writeReadyFile writes atomically, so a watcher never reads half a file.
func writeReadyFile(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

// startEtcd starts the embedded etcd or connects to the configured
// cluster, and returns a client, the embedded server's fatal errors (nil
// for a cluster) and the function that closes both.
func (s *Server) startEtcd(ctx context.Context) (*clientv3.Client, <-chan error, func(), error) {
	e := s.cfg.Etcd
	if s.cfg.EmbeddedEtcd() {
		srv, err := embedded.Start(ctx, embedded.Config{
			Dir:                 s.cfg.DataDir,
			QuotaBytes:          e.QuotaBytes,
			CompactionRetention: e.CompactionRetention.D(),
			DefragInterval:      e.DefragInterval.D(),
			SnapshotCount:       e.SnapshotCount,
			Logger:              s.log,
		})
		if err != nil {
			return nil, nil, nil, err
		}
		cli, err := srv.NewClient()
		if err != nil {
			srv.Close()
			return nil, nil, nil, err
		}
		s.log.Info("embedded etcd started", "data_dir", s.cfg.DataDir)
		return cli, srv.Err(), func() { cli.Close(); srv.Close() }, nil
	}
	cc := clientv3.Config{
		// No DialTimeout: with one, New blocks until etcd answers and a
		// server started during an etcd outage would exit. Without it the
		// client connects in the background; /readyz reports "loading"
		// until the index loads, and dialTimeout bounds each attempt.
		Endpoints: e.Endpoints,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.DefaultConfig,
			MinConnectTimeout: e.DialTimeout.D(),
		})},
		Username: e.Username,
		Password: e.Password,
		Logger:   zap.NewNop(),
		// Keepalives notice a dead member quickly, so the client fails over.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	}
	if e.CAFile != "" || e.CertFile != "" {
		tc, err := etcdTLS(e)
		if err != nil {
			return nil, nil, nil, &ConfigError{err}
		}
		cc.TLS = tc
	}
	cli, err := clientv3.New(cc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("connecting to etcd %v: %w", e.Endpoints, err)
	}
	s.log.Info("using external etcd", "endpoints", e.Endpoints)
	return cli, nil, func() { cli.Close() }, nil
}

func etcdTLS(e config.Etcd) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config: etcd.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: etcd.caFile: %s holds no PEM certificate", e.CAFile)
		}
		tc.RootCAs = pool
	}
	if e.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: etcd.certFile/keyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
