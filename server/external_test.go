package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store/etcdtest"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

// TestExternalEtcd runs two replicas against one external etcd (Debian's
// etcd binary): a write on one is read on the other; while etcd is down,
// readyz says so and writes fail with a clear 503; when etcd returns, both
// recover without a restart.
func TestExternalEtcd(t *testing.T) {
	ext := etcdtest.StartExternal(t)
	external := func(c *config.Config) {
		c.Etcd.Endpoints = []string{ext.Endpoint}
		c.Etcd.RequestTimeout = config.Duration(time.Second)
		c.Etcd.DialTimeout = config.Duration(time.Second)
	}
	a := start(t, external)
	b := start(t, external)

	r := a.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "shared", "email": "shared@example.com"})
	want(t, r, http.StatusCreated)
	id := r.body["id"].(string)
	eventually(t, func() bool { return b.admin(t, "GET", "/api/v1/users/"+id, nil).status == http.StatusOK })
	// Uniqueness holds across replicas.
	want(t, b.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "SHARED"}), http.StatusConflict)

	ext.Stop()
	eventually(t, func() bool { return a.do(t, "GET", "/readyz", "", nil).status == http.StatusServiceUnavailable })
	r = a.do(t, "GET", "/readyz", "", nil)
	if !strings.Contains(r.raw, "unavailable") {
		t.Fatalf("readyz during outage: %s", r.raw)
	}
	r = a.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "during-outage"})
	want(t, r, http.StatusServiceUnavailable)
	if errField(r, "code") != "unavailable" || !strings.Contains(errField(r, "message"), "etcd") {
		t.Fatalf("write during outage: %s", r.raw)
	}
	// Reads keep working from the index.
	want(t, a.admin(t, "GET", "/api/v1/users/"+id, nil), http.StatusOK)

	if err := ext.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return a.do(t, "GET", "/readyz", "", nil).status == http.StatusOK })
	eventually(t, func() bool {
		return a.admin(t, "POST", "/api/v1/users", map[string]any{"userName": "after-outage"}).status == http.StatusCreated
	})
	eventually(t, func() bool {
		return b.admin(t, "GET", "/api/v1/users?userName=after-outage", nil).body["total"] == 1.0
	})
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestExternalEtcdDownAtStart starts Headwater while its etcd is down: it
// must serve /readyz (503, loading) instead of exiting, and become ready
// once etcd is up.
func TestExternalEtcdDownAtStart(t *testing.T) {
	ext := etcdtest.StartExternal(t)
	ext.Stop()
	cfg := config.Default()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LDAPAddr = "127.0.0.1:0"
	cfg.DataDir = shortDir(t)
	cfg.Etcd.Endpoints = []string{ext.Endpoint}
	cfg.Etcd.RequestTimeout = config.Duration(time.Second)
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var url string
	eventually(t, func() bool { url = srv.HTTPAddr(); return url != "" })
	r := (&running{url: "http://" + url}).do(t, "GET", "/readyz", "", nil)
	if r.status != http.StatusServiceUnavailable || r.body["index"] != "loading" {
		t.Fatalf("readyz with etcd down at start: %d %s", r.status, r.raw)
	}
	if err := ext.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		return (&running{url: "http://" + url}).do(t, "GET", "/readyz", "", nil).status == http.StatusOK
	})
}
