package ldapfront_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/ldapfront"
)

// flakyListener fails its first Accepts with EMFILE, as a process out of
// file descriptors sees.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestAcceptSurvivesEMFILE: accept errors such as EMFILE make the server
// wait and retry, not exit.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	f := setup(t)
	s, err := ldapfront.New(f.auth, ldapfront.Config{BaseDN: base, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner}
	ln.fails.Store(5)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, false) }()
	c, err := ldap.DialURL("ldap://" + inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind("alice", "Alice-Pass-2026"); err != nil {
		t.Fatalf("bind after accept errors: %v", err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
