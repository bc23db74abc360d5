// Package etcdtest starts real etcd servers for tests: the embedded one
// Headwater runs by default, and Debian's etcd binary as an external
// cluster of one, on loopback ports chosen at run time.
package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/headwater/headwater/authority/store/embedded"
)

// Embedded starts an embedded etcd in a temporary directory and returns it;
// it stops when the test ends.
func Embedded(t testing.TB) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{Dir: shortTempDir(t)})
	if err != nil {
		t.Fatalf("starting embedded etcd: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// shortTempDir returns a temporary directory whose path stays short enough
// for unix sockets even under long test names.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "hw-etcd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Binary is the external etcd used by tests; HEADWATER_TEST_ETCD overrides.
func Binary() string {
	if b := os.Getenv("HEADWATER_TEST_ETCD"); b != "" {
		return b
	}
	return "/usr/bin/etcd"
}

// External is an etcd process started by a test.
type External struct {
	Endpoint string
	cmd      *exec.Cmd
	dir      string
	peerURL  string
	mu       sync.Mutex
	log      *bytes.Buffer
	t        testing.TB
}

// StartExternal starts Debian's etcd on two free loopback ports. A missing
// binary fails the test: `make test` installs etcd-server.
func StartExternal(t testing.TB) *External {
	t.Helper()
	if _, err := os.Stat(Binary()); err != nil {
		t.Fatalf("external etcd binary %s not found (apt-get install etcd-server, or set HEADWATER_TEST_ETCD): %v", Binary(), err)
	}
	e := &External{dir: filepath.Join(shortTempDir(t), "data"), t: t}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = e.start(); lastErr == nil {
			t.Cleanup(e.Stop)
			return e
		}
	}
	t.Fatalf("starting external etcd: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (e *External) start() error {
	cp, err := freePort()
	if err != nil {
		return err
	}
	pp, err := freePort()
	if err != nil {
		return err
	}
	e.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", cp)
	e.peerURL = fmt.Sprintf("http://127.0.0.1:%d", pp)
	return e.run()
}

func (e *External) run() error {
	e.log = new(bytes.Buffer)
	e.cmd = exec.Command(Binary(),
		"--name", "test",
		"--data-dir", e.dir,
		"--listen-client-urls", e.Endpoint,
		"--advertise-client-urls", e.Endpoint,
		"--listen-peer-urls", e.peerURL,
		"--initial-advertise-peer-urls", e.peerURL,
		"--initial-cluster", "test="+e.peerURL,
		"--log-level", "warn",
	)
	e.cmd.Stdout = e.log
	e.cmd.Stderr = e.log
	if err := e.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- e.cmd.Wait() }()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.cmd.Process.Kill()
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("etcd exited: %v: %s", err, e.log.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := cli.Get(ctx, "health")
		cancel()
		if err == nil {
			go func() { <-exited }()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.cmd.Process.Kill()
	return fmt.Errorf("etcd did not answer within 20s: %s", e.log.String())
}

// Stop kills the process (SIGKILL: what an outage looks like to clients).
func (e *External) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd != nil && e.cmd.Process != nil {
		e.cmd.Process.Kill()
		time.Sleep(50 * time.Millisecond)
		e.cmd = nil
	}
}

// Restart starts the same member again on the same ports and data.
func (e *External) Restart() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.run()
}

// Client returns a client of this etcd, closed when the test ends.
func Client(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
