// Command scimbench measures the SCIM server over HTTP on this machine:
// creates per second with 8 concurrent clients beside the store's own
// create rate in the same run, the latency of `filter=userName eq` and of
// 100-item pages with and without sorting at a given number of users.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/embedded"
	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

const token = "scimbench-admin-token-0123456789"

func main() {
	users := flag.Int("users", 100000, "users in the store for the read measurements")
	phase := flag.Duration("phase", 5*time.Second, "duration of the create phases")
	flag.Parse()
	if err := run(*users, *phase); err != nil {
		fmt.Fprintln(os.Stderr, "scimbench:", err)
		os.Exit(1)
	}
}

func run(n int, phase time.Duration) error {
	dir, err := os.MkdirTemp("", "hw-scimbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LDAPAddr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "server")
	cfg.AdminToken = token
	cfg.Log.Level = "error"
	ready := filepath.Join(dir, "ready.json")
	srv, err := server.New(cfg, server.Options{ReadyFile: ready})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Run(ctx)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	base := "http://" + srv.HTTPAddr()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	fmt.Printf("# scimbench: %d users, phases of %s\n\n%-58s %16s\n", n, phase, "measure", "result")
	row := func(name, v string) { fmt.Printf("%-58s %16s\n", name, v) }

	var seq atomic.Int64
	created := timed(8, phase, func() bool {
		i := seq.Add(1)
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"scim%07d","name":{"givenName":"G%d","familyName":"F%d"},"emails":[{"value":"scim%07d@example.com","type":"work","primary":true}]}`, i, i%97, i%1009, i)
		status, _ := call(c, "POST", base+"/scim/v2/Users", body)
		return status == http.StatusCreated
	})
	row("SCIM POST /Users, 8 concurrent clients", fmt.Sprintf("%.0f /s", created))
	storeRate, err := storeCreates(dir, phase)
	if err != nil {
		return err
	}
	row("store CreateUser (same run, own etcd), 8 writers", fmt.Sprintf("%.0f /s", storeRate))

	// Fill through the admin API's import, 1000 per request.
	have := int(seq.Load())
	for i := have; i < n; i += 1000 {
		var users []map[string]any
		for j := i; j < min(i+1000, n); j++ {
			users = append(users, map[string]any{"userName": fmt.Sprintf("fill%07d", j), "givenName": fmt.Sprintf("G%d", j%97), "familyName": fmt.Sprintf("F%d", j%1009), "email": fmt.Sprintf("fill%07d@example.com", j)})
		}
		data, _ := json.Marshal(map[string]any{"users": users})
		if status, body := call(c, "POST", base+"/api/v1/users/import", string(data)); status != 200 {
			return fmt.Errorf("import: %d %s", status, body)
		}
	}

	lat := latencies(2000, func() {
		name := fmt.Sprintf("fill%07d", rand.IntN(n-have)+have)
		status, body := call(c, "GET", base+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), "")
		if status != 200 || !bytes.Contains(body, []byte(`"totalResults":1`)) {
			panic(fmt.Sprintf("filter: %d %s", status, body))
		}
	})
	row(fmt.Sprintf("filter=userName eq, at %d users: p50 / p99", n), fmt.Sprintf("%s / %s", p(lat, 50), p(lat, 99)))
	lat = latencies(50, func() {
		status, _ := call(c, "GET", fmt.Sprintf("%s/scim/v2/Users?startIndex=%d&count=100", base, rand.IntN(n-100)+1), "")
		if status != 200 {
			panic(status)
		}
	})
	row(fmt.Sprintf("100-item page, no sort, at %d users: p50 / p99", n), fmt.Sprintf("%s / %s", p(lat, 50), p(lat, 99)))
	lat = latencies(5, func() {
		status, _ := call(c, "GET", base+"/scim/v2/Users?sortBy=name.familyName&startIndex=101&count=100", "")
		if status != 200 {
			panic(status)
		}
	})
	row(fmt.Sprintf("100-item page, sortBy=name.familyName, at %d users: p50", n), p(lat, 50))
	return nil
}

func call(c *http.Client, method, u, body string) (int, []byte) {
	req, _ := http.NewRequest(method, u, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func timed(workers int, d time.Duration, fn func() bool) float64 {
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if fn() {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}

func storeCreates(dir string, d time.Duration) (float64, error) {
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{Dir: filepath.Join(dir, "raw")})
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	cli, err := srv.NewClient()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	st := store.Open(cli, store.Options{})
	defer st.Close()
	if err := st.WaitReady(ctx); err != nil {
		return 0, err
	}
	var seq atomic.Int64
	return timed(8, d, func() bool {
		i := seq.Add(1)
		_, err := st.CreateUser(ctx, &store.User{UserName: fmt.Sprintf("raw%07d", i), Emails: []store.Email{{Value: fmt.Sprintf("raw%07d@example.com", i)}}}, store.Write{})
		return err == nil
	}), nil
}

func latencies(n int, fn func()) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		t := time.Now()
		fn()
		out[i] = time.Since(t)
	}
	slices.Sort(out)
	return out
}

func p(l []time.Duration, pct int) string {
	return l[min(len(l)-1, len(l)*pct/100)].Round(10 * time.Microsecond).String()
}
