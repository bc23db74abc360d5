package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront"
)

// startLDAP opens the LDAP listener (with StartTLS when a certificate is
// configured) and the LDAPS one when ldapsAddr is set, and serves them
// until the returned stop is called.
func (s *Server) startLDAP(auth *authority.Authority, tlsCfg *tls.Config) (stop func(), err error) {
	if s.cfg.LDAPAddr == "" && s.cfg.LDAPSAddr == "" {
		return func() {}, nil
	}
	front, err := ldapfront.New(auth, ldapfront.Config{
		BaseDN:     s.cfg.BaseDN,
		TLS:        tlsCfg,
		RequireTLS: s.cfg.LDAPRequireTLS,
		Logger:     s.log.With("component", "ldap"),
	})
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("config: baseDN: %w", err)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	open := func(addr string, ldaps bool) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := front.Serve(ctx, ln, ldaps); err != nil {
				s.log.Error("LDAP listener stopped", "addr", addr, "err", err)
			}
		}()
		return ln.Addr().String(), nil
	}
	stop = func() { cancel(); wg.Wait() }
	if s.cfg.LDAPAddr != "" {
		a, err := open(s.cfg.LDAPAddr, false)
		if err != nil {
			stop()
			return nil, fmt.Errorf("listening on ldapAddr %s: %w", s.cfg.LDAPAddr, err)
		}
		s.mu.Lock()
		s.ldapAddr = a
		s.mu.Unlock()
		s.log.Info("LDAP listening", "ldap_addr", a, "starttls", tlsCfg != nil)
	}
	if s.cfg.LDAPSAddr != "" {
		if tlsCfg == nil {
			stop()
			return nil, &ConfigError{fmt.Errorf("config: ldapsAddr needs a certificate (tls.certFile/keyFile or tls.selfSigned)")}
		}
		a, err := open(s.cfg.LDAPSAddr, true)
		if err != nil {
			stop()
			return nil, fmt.Errorf("listening on ldapsAddr %s: %w", s.cfg.LDAPSAddr, err)
		}
		s.mu.Lock()
		s.ldapsAddr = a
		s.mu.Unlock()
		s.log.Info("LDAPS listening", "ldaps_addr", a)
	}
	return stop, nil
}

// addrs are the bound addresses for the ready file.
func (s *Server) addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{"http_addr": s.httpAddr}
	if s.ldapAddr != "" {
		m["ldap_addr"] = s.ldapAddr
	}
	if s.ldapsAddr != "" {
		m["ldaps_addr"] = s.ldapsAddr
	}
	if s.agentAddr != "" {
		m["agent_addr"] = s.agentAddr
	}
	return m
}

// LDAPAddr is the bound LDAP address, once Run has bound it.
func (s *Server) LDAPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ldapAddr
}
