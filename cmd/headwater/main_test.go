package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/embedded"
)

var binary string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hw-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "headwater")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building headwater:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const token = "crash-test-admin-token-0123"

type proc struct {
	cmd *exec.Cmd
	url string
	log *bytes.Buffer
}

func serve(t *testing.T, dataDir string) *proc {
	t.Helper()
	return serveWith(t, dataDir)
}

func post(url, path string, body any) (int, map[string]any, error) {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func get(url, path string) (int, map[string]any) {
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestCrashDuringWrites SIGKILLs `headwater serve` while four clients
// create users and add them to a group, three times over. After each
// restart every acknowledged write must be there, and at the end the store
// must hold no orphaned index key and no half-written record.
func TestCrashDuringWrites(t *testing.T) {
	dir, err := os.MkdirTemp("", "hw-crash-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	acked := map[string]string{} // id -> userName
	var mu sync.Mutex
	var groupID string
	for round := 0; round < 3; round++ {
		p := serve(t, dir)
		for id, name := range acked {
			status, u := get(p.url, "/api/v1/users/"+id)
			if status != http.StatusOK || u["userName"] != name {
				t.Fatalf("round %d: acknowledged user %s (%s) is missing after the crash: %d %v\n%s", round, name, id, status, u, p.log)
			}
		}
		if groupID == "" {
			status, g, err := post(p.url, "/api/v1/groups", map[string]any{"displayName": "crashers"})
			if err != nil || status != http.StatusCreated {
				t.Fatalf("creating the group: %d %v", status, err)
			}
			groupID = g["id"].(string)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var count int
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("r%d-w%d-u%d", round, w, i)
					status, u, err := post(p.url, "/api/v1/users", map[string]any{"userName": name, "email": name + "@example.com"})
					if err != nil {
						return // the server died under us
					}
					if status != http.StatusCreated {
						continue
					}
					id := u["id"].(string)
					mu.Lock()
					acked[id] = name
					count++
					mu.Unlock()
					post(p.url, "/api/v1/groups/"+groupID+"/members", map[string]any{"userId": id})
				}
			}(w)
		}
		// Let writes flow, then pull the plug mid-stream.
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := count
			mu.Unlock()
			if n >= 150 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		close(stop)
		wg.Wait()
		t.Logf("round %d: %d writes acknowledged before SIGKILL (%d in total)", round, count, len(acked))
		if count == 0 {
			t.Fatalf("round %d: no write was acknowledged:\n%s", round, p.log)
		}
	}

	// A last start checks everything, then a clean stop (SIGTERM, exit 0).
	p := serve(t, dir)
	for id, name := range acked {
		if status, u := get(p.url, "/api/v1/users/"+id); status != http.StatusOK || u["userName"] != name {
			t.Fatalf("acknowledged user %s missing: %d", name, status)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("clean shutdown exited with %v:\n%s", err, p.log)
	}

	// Open the data directory directly and check every index key.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := srv.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := store.Open(cli, store.Options{})
	defer st.Close()
	problems, err := st.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("after crashes: %s: %s", pr.Key, pr.Reason)
	}
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	users, _ := st.Counts()
	t.Logf("%d acknowledged users, %d stored (the rest were in flight at a crash), %d problems", len(acked), users-1, len(problems))
}

// TestExitCodes checks the contract's exit codes: 2 for bad usage and
// invalid configuration (naming the key), 1 for runtime failures.
func TestExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("httpAddr: nonsense\n"), 0o600)
	unknownKey := filepath.Join(t.TempDir(), "unknown.yaml")
	os.WriteFile(unknownKey, []byte("etcd:\n  prefx: /x/\n"), 0o600)
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, []byte("httpAddr: 127.0.0.1:9999\nadminToken: a-very-long-admin-token\n"), 0o600)
	cases := []struct {
		name   string
		args   []string
		env    []string
		code   int
		output string
	}{
		{"unknown command", []string{"frobnicate"}, nil, 2, "unknown command"},
		{"bad flag", []string{"serve", "--nope"}, nil, 2, "unknown flag"},
		{"bad config file", []string{"config", "check", bad}, nil, 2, "httpAddr"},
		{"unknown config key", []string{"config", "check", unknownKey}, nil, 2, "etcd.prefx"},
		{"missing config file", []string{"config", "check", "/nonexistent.yaml"}, nil, 2, "nonexistent.yaml"},
		{"good config redacted", []string{"config", "check", good}, nil, 0, "<redacted>"},
		{"bad env", []string{"serve"}, []string{"HEADWATER_HTTP_ADDR=nope"}, 2, "HEADWATER_HTTP_ADDR"},
		{"weak admin password", []string{"serve"}, []string{"HEADWATER_ADMIN_PASSWORD=admin"}, 2, "adminPassword"},
		{"no token", []string{"user", "list"}, []string{"HEADWATER_TOKEN="}, 2, "HEADWATER_TOKEN"},
		{"server down", []string{"user", "list"}, []string{"HEADWATER_TOKEN=x", "HEADWATER_URL=http://127.0.0.1:1"}, 1, "cannot reach"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary, tc.args...)
			cmd.Env = append(os.Environ(), append([]string{"HEADWATER_DATA_DIR=" + t.TempDir()}, tc.env...)...)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.output) {
				t.Fatalf("exit %d, want %d; output should contain %q:\n%s", code, tc.code, tc.output, out)
			}
			if strings.Contains(string(out), "a-very-long-admin-token") {
				t.Fatal("config check printed a secret")
			}
		})
	}
}
