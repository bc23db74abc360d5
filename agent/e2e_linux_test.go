//go:build linux

package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/sha512_crypt"

	"github.com/headwater/headwater/agent"
	"github.com/headwater/headwater/agent/driver"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/connectors/local"
	"github.com/headwater/headwater/internal/nstest"
	"github.com/headwater/headwater/server"
)

const (
	token    = "agent-e2e-admin-token-0123456789"
	account  = "hwagent"
	envURL   = "HEADWATER_E2E_AGENT_URL"
	envToken = "HEADWATER_E2E_AGENT_TOKEN"
)

// TestAgentEndToEnd: a server with its agent listener; an agent enrolled
// with a one-time token runs inside a private mount namespace with an
// overlay over /etc, where it applies jobs with the real tools. Checked:
// the inventory reaches Headwater and import binds the account; a password
// set in Headwater lands in the shadow file (the new password verifies,
// the old does not); suspend locks the account; a change made while the
// agent is offline arrives when it comes back; a revoked certificate is
// refused, and so is a certificate from another CA; the host's account
// files are unchanged.
func TestAgentEndToEnd(t *testing.T) {
	if nstest.Inside() {
		t.Skip("the namespace half runs as TestAgentInNamespace")
	}
	hostFiles := hashes(t)
	local.OnlineWithin, local.OfflineRetry = 2*time.Second, 500*time.Millisecond

	dir := t.TempDir()
	cfg := config.Default()
	cfg.HTTPAddr, cfg.LDAPAddr, cfg.Agent.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.AdminToken = token
	ready := filepath.Join(dir, "ready.json")
	srv, err := server.New(cfg, server.Options{ReadyFile: ready})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "server ready", 30*time.Second, func() bool { _, err := os.Stat(ready); return err == nil })
	base := "http://" + srv.HTTPAddr()

	call(t, base, "POST", "/api/v1/directories", map[string]any{"name": "m1", "kind": "local"}, 201, nil)
	var enr struct{ Token, Server string }
	call(t, base, "POST", "/api/v1/directories/m1/enrolment", nil, 201, &enr)
	if !strings.HasPrefix(enr.Token, local.TokenPrefix) || enr.Server != srv.AgentURL() {
		t.Fatalf("enrolment: %+v", enr)
	}

	shared := filepath.Join(dir, "shared")
	os.MkdirAll(shared, 0o700)
	inner := make(chan []byte, 1)
	go func() {
		out, err := nstest.Run(ctx, t, "TestAgentInNamespace", shared, envURL+"="+enr.Server, envToken+"="+enr.Token)
		if err != nil {
			out = append(out, []byte("\ninner half: "+err.Error())...)
		}
		inner <- out
	}()
	defer func() {
		if t.Failed() {
			t.Logf("bindings: %s", callRaw(t, base, "GET", "/api/v1/directories/m1/bindings", nil))
			t.Logf("outbox: %s", callRaw(t, base, "GET", "/api/v1/directories/m1/outbox", nil))
			os.WriteFile(filepath.Join(shared, "quit"), nil, 0o600)
			select {
			case out := <-inner:
				t.Logf("namespace half:\n%s", out)
			case <-time.After(10 * time.Second):
			}
		}
	}()

	// The agent enrols, polls, reports its accounts.
	waitFor(t, "machine online with its inventory", 60*time.Second, func() bool {
		var l struct{ Items []local.Machine }
		call(t, base, "GET", "/api/v1/agents", nil, 200, &l)
		return len(l.Items) == 1 && l.Items[0].Online && l.Items[0].Accounts > 0
	})
	var u struct{ ID string }
	call(t, base, "POST", "/api/v1/users", map[string]any{"userName": account, "email": account + "@example.com", "state": "active"}, 201, &u)
	var imp struct {
		Matches []struct{ UserName, By string }
	}
	call(t, base, "POST", "/api/v1/directories/m1/import", map[string]any{}, 200, &imp)
	if len(imp.Matches) != 1 || imp.Matches[0].UserName != account || imp.Matches[0].By != "login" {
		t.Fatalf("import did not match the local account: %+v", imp)
	}

	// A password set in Headwater lands in the machine's shadow file.
	call(t, base, "POST", "/api/v1/users/"+u.ID+"/password", map[string]any{"password": "First-Local-Pass-26"}, 204, nil)
	waitFor(t, "first password in /etc/shadow", 60*time.Second, func() bool { return verifies(shared, "First-Local-Pass-26") })
	call(t, base, "POST", "/api/v1/users/"+u.ID+"/password", map[string]any{"password": "Second-Local-Pass-27"}, 204, nil)
	waitFor(t, "second password", 60*time.Second, func() bool { return verifies(shared, "Second-Local-Pass-27") })
	if verifies(shared, "First-Local-Pass-26") {
		t.Fatal("the old password still verifies")
	}
	// Suspend locks the account.
	call(t, base, "POST", "/api/v1/users/"+u.ID+"/suspend", nil, 200, nil)
	waitFor(t, "locked", 60*time.Second, func() bool { return strings.HasPrefix(shadowHash(shared), "!") })
	call(t, base, "POST", "/api/v1/users/"+u.ID+"/activate", nil, 200, nil)
	waitFor(t, "unlocked", 60*time.Second, func() bool { h := shadowHash(shared); return h != "" && !strings.HasPrefix(h, "!") })

	// Offline: the agent stops polling; a change made meanwhile waits in
	// the outbox and arrives when the agent returns.
	os.WriteFile(filepath.Join(shared, "pause"), nil, 0o600)
	waitFor(t, "machine offline", 30*time.Second, func() bool {
		var l struct{ Items []local.Machine }
		call(t, base, "GET", "/api/v1/agents", nil, 200, &l)
		return !l.Items[0].Online
	})
	call(t, base, "POST", "/api/v1/users/"+u.ID+"/password", map[string]any{"password": "While-Offline-Pass-28"}, 204, nil)
	time.Sleep(time.Second)
	if verifies(shared, "While-Offline-Pass-28") {
		t.Fatal("delivered while the agent was offline")
	}
	os.Remove(filepath.Join(shared, "pause"))
	waitFor(t, "queued password after reconnect", 60*time.Second, func() bool { return verifies(shared, "While-Offline-Pass-28") })

	// A certificate from another CA is refused by TLS.
	other := tlsClientWithForeignCert(t)
	if resp, err := other.Get(enr.Server + local.PathJobs); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("a foreign certificate was served jobs")
		}
	}
	// Revoked: the agent's next poll is refused and it stops.
	call(t, base, "POST", "/api/v1/directories/m1/revoke", nil, 204, nil)
	waitFor(t, "agent refused after revocation", 60*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(shared, "stopped"))
		return strings.Contains(string(b), "revoked")
	})
	os.WriteFile(filepath.Join(shared, "quit"), nil, 0o600)
	out := <-inner
	if !bytes.Contains(out, []byte("--- PASS: TestAgentInNamespace")) {
		t.Fatalf("namespace half did not pass:\n%s", out)
	}
	if after := hashes(t); after != hostFiles {
		t.Fatal("the host's account files changed")
	}
}

// TestAgentInNamespace is the half inside the private mount namespace: it
// isolates /etc, creates the account, enrols and runs the agent with the
// real Linux driver, copies /etc/shadow out for the outer half, pauses
// while a "pause" file exists, and ends on "quit".
func TestAgentInNamespace(t *testing.T) {
	if !nstest.Inside() {
		t.Skip("runs inside the namespace TestAgentEndToEnd makes; TestAgentEndToEnd fails unless this half passes")
	}
	nstest.IsolateEtc(t)
	if out, err := exec.Command("useradd", "-M", "-l", "-s", "/bin/bash", account).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	shared := nstest.Dir()
	stateDir := filepath.Join(shared, "agent-state")
	ctx := context.Background()
	if _, err := agent.Enroll(ctx, os.Getenv(envURL), os.Getenv(envToken), stateDir); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	drv := driver.NewLinux(driver.ExecRunner{}, "/")
	go func() {
		for {
			if b, err := os.ReadFile("/etc/shadow"); err == nil {
				tmp := filepath.Join(shared, "shadow.tmp")
				os.WriteFile(tmp, b, 0o600)
				os.Rename(tmp, filepath.Join(shared, "shadow"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for {
		if _, err := os.Stat(filepath.Join(shared, "quit")); err == nil {
			return
		}
		if _, err := os.Stat(filepath.Join(shared, "pause")); err == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		a, err := agent.Load(stateDir, drv, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.Poll = 500 * time.Millisecond
		rctx, cancel := context.WithCancel(ctx)
		go func() { // stop on pause or quit
			for rctx.Err() == nil {
				_, p := os.Stat(filepath.Join(shared, "pause"))
				_, q := os.Stat(filepath.Join(shared, "quit"))
				if p == nil || q == nil {
					cancel()
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		err = a.Run(rctx)
		cancel()
		if err != nil {
			os.WriteFile(filepath.Join(shared, "stopped"), []byte(err.Error()), 0o600)
			for {
				if _, err := os.Stat(filepath.Join(shared, "quit")); err == nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

func shadowHash(shared string) string {
	b, _ := os.ReadFile(filepath.Join(shared, "shadow"))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) > 1 && f[0] == account {
			return f[1]
		}
	}
	return ""
}

func verifies(shared, pw string) bool {
	h := shadowHash(shared)
	if !strings.HasPrefix(h, "$6$") {
		return false
	}
	return crypt.SHA512.New().Verify(h, []byte(pw)) == nil
}

func hashes(t *testing.T) string {
	var out []string
	for _, f := range []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%x", sha256.Sum256(b)))
	}
	return strings.Join(out, ",")
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func do(t *testing.T, base, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func callRaw(t *testing.T, base, method, path string, body any) string {
	t.Helper()
	_, b := do(t, base, method, path, body)
	return string(b)
}

func call(t *testing.T, base, method, path string, body any, want int, out any) {
	t.Helper()
	status, b := do(t, base, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		json.Unmarshal(b, out)
	}
}

// tlsClientWithForeignCert presents a self-signed client certificate the
// agent CA did not issue (and trusts any server: the point is the client).
func tlsClientWithForeignCert(t *testing.T) *http.Client {
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "1", "-subj", "/CN=m1").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}}}
}
