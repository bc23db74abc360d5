package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read what run prints while run is still going.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPrintsWhatAClientNeeds(t *testing.T) {
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-tenant", "t1", "-domain", "t1=contoso.com", "-unverified-domain", "pending.com",
			"-users", "3", "-ca-out", caPath, "-client-id", "cid", "-client-secret", "sec"}, &out, &syncBuffer{})
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(out.String(), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "base URL:"); ok {
				base = strings.TrimSpace(v)
			}
		}
		if base != "" && strings.Contains(out.String(), "CA certificate:") {
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no base URL printed: %q", out.String())
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.PostForm(base+"/t1/oauth2/v2.0/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"sec"},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("token with the printed credentials: %d", resp.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestConfigFromFlags(t *testing.T) {
	o, err := parseFlags([]string{"-tenant", "a", "-tenant", "b", "-domain", "b=fabrikam.com", "-unverified-domain", "x.com", "-users", "2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Tenants[0], cfg.Tenants[1]
	if len(a.Domains) != 2 || a.Domains[0].Name != "x.com" || a.Domains[0].Verified || !a.Domains[1].Default {
		t.Errorf("tenant a domains %+v", a.Domains)
	}
	if !b.Domains[0].Default || b.Domains[0].Name != "fabrikam.com" || b.Users[1].UserPrincipalName != "user002@fabrikam.com" {
		t.Errorf("tenant b %+v", b)
	}
	for _, bad := range [][]string{{"-domain", "nosuch=x.com"}, {"-throttle-fraction", "2"}, {"extra"}} {
		if o, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			if _, err := o.config(nil); err == nil {
				t.Errorf("flags %v accepted", bad)
			}
		}
	}
}
