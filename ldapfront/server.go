package ldapfront

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/directory"
)

// Config tunes the front end. Zero values take the defaults.
type Config struct {
	BaseDN string
	// TLS, when set, enables StartTLS on plain listeners and is the
	// certificate of LDAPS listeners.
	TLS *tls.Config
	// RequireTLS refuses binds and searches on a connection that has not
	// done StartTLS (LDAPS connections are TLS from the start).
	RequireTLS bool
	// MaxConns bounds open connections; further ones are closed at once.
	MaxConns int
	// MaxInFlight bounds concurrent requests on one connection; beyond it
	// the connection's reads wait.
	MaxInFlight int
	// PreBindMaxBytes and MaxBytes cap one PDU before and after a
	// successful bind: anonymous peers get little room.
	PreBindMaxBytes int
	MaxBytes        int
	// IdleTimeout closes a connection with no request for this long.
	IdleTimeout time.Duration
	// RequestTimeout bounds one request (searches are told to stop).
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 4096
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 32
	}
	if c.PreBindMaxBytes <= 0 {
		c.PreBindMaxBytes = 64 << 10
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server serves LDAP on any number of listeners.
type Server struct {
	auth  *authority.Authority
	dir   *directory.Directory
	cfg   Config
	log   *slog.Logger
	binds *bindCache
	// slow bounds concurrent argon2 verifications: each takes tens of
	// milliseconds of a core and ~19 MiB.
	slow chan struct{}

	mu    sync.Mutex
	conns map[*conn]struct{}
	wg    sync.WaitGroup
}

// New returns a server; call Serve for each listener.
func New(a *authority.Authority, cfg Config) (*Server, error) {
	cfg.defaults()
	dir, err := directory.New(a, cfg.BaseDN)
	if err != nil {
		return nil, err
	}
	return &Server{
		auth:  a,
		dir:   dir,
		cfg:   cfg,
		log:   cfg.Logger,
		binds: newBindCache(5*time.Minute, 100000),
		slow:  make(chan struct{}, 4),
		conns: map[*conn]struct{}{},
	}, nil
}

// Serve accepts connections on ln until ctx ends; tlsFromStart makes it
// an LDAPS listener. It survives accept errors such as EMFILE by backing
// off instead of exiting.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsFromStart bool) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				s.closeAll()
				s.wg.Wait()
				return nil
			}
			// EMFILE and friends pass: wait and accept again.
			s.log.Warn("LDAP accept failed; retrying", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if tlsFromStart {
			nc = tls.Server(nc, s.cfg.TLS)
		}
		c := s.newConn(nc, tlsFromStart)
		if !s.track(c) {
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.serve(ctx)
		}()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.cfg.MaxConns {
		s.log.Warn("LDAP connection limit reached; closing a new connection", "limit", s.cfg.MaxConns, "remote", c.remote)
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.close()
	}
}
