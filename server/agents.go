package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/connectors/local"
)

// agents runs the listener machines' agents connect to (mutual TLS with
// the agent CA) and gives the admin API the CA for enrolment tokens.
type agents struct {
	mu sync.Mutex
	ca *local.CA
}

func (g *agents) getCA(ctx context.Context, auth *authority.Authority) (*local.CA, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ca != nil {
		return g.ca, nil
	}
	ca, err := local.LoadCA(ctx, auth)
	if err != nil {
		return nil, err
	}
	g.ca = ca
	return ca, nil
}

// startAgents listens on agent.addr (once the store answers: the CA lives there).
func (s *Server) startAgents(ctx context.Context, auth *authority.Authority) error {
	addr := s.cfg.Agent.Addr
	if addr == "" {
		return nil
	}
	ca, err := s.agents.getCA(ctx, auth)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	hosts := []string{"127.0.0.1", "localhost", host}
	if pu, err := s.publicURL("http"); err == nil {
		hosts = append(hosts, pu.Hostname())
	}
	hosts = append(hosts, s.cfg.Agent.Hosts...)
	tlsCfg, err := ca.ServerTLS(hosts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on agent.addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: local.NewServer(auth, ca, s.log.With("component", "agents")), TLSConfig: tlsCfg,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	s.mu.Lock()
	s.agentAddr = ln.Addr().String()
	s.mu.Unlock()
	go srv.ServeTLS(ln, "", "")
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	s.log.Info("agent listener", "agent_addr", ln.Addr().String())
	return nil
}

// AgentURL is the agents' address as https://host:port, once listening.
func (s *Server) AgentURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agentAddr == "" {
		return ""
	}
	return "https://" + s.agentAddr
}
