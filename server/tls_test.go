package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

// TestHTTPSSelfSigned serves HTTPS with a generated certificate, verified
// by a client that trusts only that certificate; the certificate stays the
// same across a restart.
func TestHTTPSSelfSigned(t *testing.T) {
	dir := shortDir(t)
	cfg := config.Default()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LDAPAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TLS.SelfSigned = true
	cfg.TLS.HTTPS = true
	run := func() (string, context.CancelFunc, chan error) {
		ready := filepath.Join(t.TempDir(), "ready.json")
		srv, err := server.New(cfg, server.Options{ReadyFile: ready})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if data, err := os.ReadFile(ready); err == nil {
				var m map[string]string
				json.Unmarshal(data, &m)
				return m["http_addr"], cancel, done
			}
		}
		t.Fatal("not ready")
		return "", nil, nil
	}
	addr, cancel, done := run()
	pemBytes, err := os.ReadFile(filepath.Join(dir, "selfsigned.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "selfsigned.key")); info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", info.Mode().Perm())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("status %d over TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Go's TLS server answers a plain request with 400 and nothing else.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the HTTPS listener got %d", resp.StatusCode)
		}
	}
	cancel()
	<-done
	addr, cancel, done = run()
	defer func() { cancel(); <-done }()
	if resp, err := c.Get("https://" + addr + "/healthz"); err != nil {
		t.Fatalf("certificate changed across restart: %v", err)
	} else {
		resp.Body.Close()
	}
}
