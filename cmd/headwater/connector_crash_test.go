package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/headwater/headwater/internal/graphemu"
)

// TestDeliverySurvivesSIGKILL: a password change is queued, the server is
// SIGKILLed while the delivery to Microsoft 365 hangs (the emulator holds
// every request for seconds), and after a restart the password arrives.
func TestDeliverySurvivesSIGKILL(t *testing.T) {
	e, err := graphemu.Start(context.Background(), graphemu.Config{Tenants: []graphemu.TenantConfig{{
		ID:      "contoso",
		Domains: []graphemu.Domain{{Name: "contoso.example", Verified: true, Default: true}},
		Apps:    []graphemu.App{{ClientID: "app", ClientSecret: "app-secret"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dir, err := os.MkdirTemp("", "hw-kill-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, e.CACertPEM(), 0o600)
	cfg := filepath.Join(dir, "headwater.yaml")
	os.WriteFile(cfg, []byte("connectors:\n  caFile: "+ca+"\n  feedEvery: 1s\n"), 0o600)

	run := func() *proc {
		p := serveWith(t, filepath.Join(dir, "data"), "--config", cfg)
		return p
	}
	p := run()
	st, out, err := post(p.url, "/api/v1/directories", map[string]any{
		"name": "contoso", "kind": "m365", "allUsers": true,
		"settings": map[string]any{"tenants": []map[string]any{{"tenantId": "contoso", "clientId": "app", "authorityHost": e.URL(), "graphURL": e.GraphURL()}}},
		"secrets":  map[string]string{"contoso.clientSecret": "app-secret"},
	})
	if err != nil || st != 201 {
		t.Fatalf("directory: %d %v %v", st, out, err)
	}
	time.Sleep(2100 * time.Millisecond) // the directory list is cached for 2 s at user creation
	st, out, _ = post(p.url, "/api/v1/users", map[string]any{"userName": "kim", "email": "kim@contoso.example", "state": "active", "password": "Kim-First-2026"})
	if st != 201 {
		t.Fatalf("user: %d %v", st, out)
	}
	uid := out["id"].(string)
	waitUntil(t, "kim provisioned", func() bool { pw, _ := e.PasswordOf("contoso", "kim@contoso.example"); return pw == "Kim-First-2026" })

	// Every Graph call now hangs for 5 s: the next delivery is in flight
	// when the server dies.
	e.SetLatency(5 * time.Second)
	if st, out, _ := post(p.url, "/api/v1/users/"+uid+"/password", map[string]any{"password": "Kim-Second-2027"}); st != 204 {
		t.Fatalf("password: %d %v", st, out)
	}
	time.Sleep(500 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	if pw, _ := e.PasswordOf("contoso", "kim@contoso.example"); pw == "Kim-Second-2027" {
		t.Fatal("delivered before the kill; the test proves nothing")
	}
	e.SetLatency(0)

	p = run()
	defer func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() }()
	waitUntil(t, "the queued password arrives after the restart", func() bool {
		pw, _ := e.PasswordOf("contoso", "kim@contoso.example")
		return pw == "Kim-Second-2027"
	})
	// And kim's entries are gone from the outbox (the built-in admin, who
	// has no email, stays there as a dead letter: not a valid UPN).
	var last map[string]any
	defer func() {
		if t.Failed() {
			t.Logf("outbox: %v\nlog:\n%s", last, p.log)
		}
	}()
	waitUntil(t, "outbox drained", func() bool {
		_, last = get(p.url, "/api/v1/directories/contoso/outbox")
		if last == nil {
			return false
		}
		items, _ := last["items"].([]any)
		for _, it := range items {
			if m, _ := it.(map[string]any); m["userId"] == uid {
				return false
			}
		}
		return true
	})
}

func serveWith(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	p := &proc{log: new(bytes.Buffer)}
	p.cmd = exec.Command(binary, append([]string{"serve", "--ready-file", ready}, args...)...)
	p.cmd.Env = append(os.Environ(),
		"HEADWATER_HTTP_ADDR=127.0.0.1:0",
		"HEADWATER_LDAP_ADDR=127.0.0.1:0",
		"HEADWATER_DATA_DIR="+dataDir,
		"HEADWATER_ADMIN_TOKEN="+token,
	)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(ready); err == nil {
			var addrs map[string]string
			if json.Unmarshal(data, &addrs) == nil && addrs["http_addr"] != "" {
				p.url = "http://" + addrs["http_addr"]
				return p
			}
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("server not ready within 60s:\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
