// Command m365bench measures delivery to Microsoft 365 through the Graph
// emulator with injected latency (default 50 ms per request):
//
//   - the initial sync of N users (default 10,000) from adding an
//     all-users directory until every account exists, printed beside the
//     lower bound that latency sets for 20-request batches (sent one after
//     another, and with the worker's parallelism);
//   - p50/p99 from a password change (the API's answer) to the new
//     password being in M365.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/internal/graphemu"
	"github.com/headwater/headwater/server"
)

const token = "m365bench-admin-token-0123456789"

var serverLog = "error"

func main() {
	users := flag.Int("users", 10000, "users to provision")
	latency := flag.Duration("latency", 50*time.Millisecond, "latency the emulator adds to every Graph request")
	samples := flag.Int("samples", 200, "password changes to time")
	logLevel := flag.String("log", "error", "server log level (info shows the workers' passes)")
	flag.Parse()
	serverLog = *logLevel
	if err := run(*users, *latency, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "m365bench:", err)
		os.Exit(1)
	}
}

func run(n int, latency time.Duration, samples int) error {
	ctx := context.Background()
	e, err := graphemu.Start(ctx, graphemu.Config{Tenants: []graphemu.TenantConfig{{
		ID: "contoso", Domains: []graphemu.Domain{{Name: "contoso.example", Verified: true, Default: true}},
		Apps: []graphemu.App{{ClientID: "bench", ClientSecret: "bench-secret"}},
	}}})
	if err != nil {
		return err
	}
	defer e.Close()
	dir, err := os.MkdirTemp("", "hw-m365bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, e.CACertPEM(), 0o600)
	cfg := config.Default()
	cfg.HTTPAddr, cfg.LDAPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "server")
	cfg.AdminToken = token
	cfg.Log.Level = serverLog
	cfg.Connectors.CAFile = ca
	ready := filepath.Join(dir, "ready.json")
	opts := server.Options{ReadyFile: ready}
	if serverLog != "error" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := server.New(cfg, opts)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(sctx)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	base := "http://" + srv.HTTPAddr()
	fmt.Printf("# m365bench: %d users, %s added to every Graph request\n\n", n, latency)

	// Users first, without passwords (hashing 10,000 argon2id passwords is
	// not what this measures).
	ids := make([]string, 0, n)
	for i := 0; i < n; i += 1000 {
		var us []map[string]any
		for j := i; j < min(i+1000, n); j++ {
			us = append(us, map[string]any{"userName": fmt.Sprintf("b%05d", j), "email": fmt.Sprintf("b%05d@contoso.example", j),
				"givenName": "Bench", "familyName": fmt.Sprintf("User%d", j), "state": "active"})
		}
		var out struct {
			Results []struct {
				ID string `json:"id"`
			} `json:"results"`
		}
		if err := call(base, "POST", "/api/v1/users/import", map[string]any{"users": us}, &out); err != nil {
			return err
		}
		for _, r := range out.Results {
			ids = append(ids, r.ID)
		}
	}
	e.SetLatency(latency)
	start := time.Now()
	if err := call(base, "POST", "/api/v1/directories", map[string]any{
		"name": "contoso", "kind": "m365", "allUsers": true,
		"settings": map[string]any{"tenants": []map[string]any{{"tenantId": "contoso", "clientId": "bench", "authorityHost": e.URL(), "graphURL": e.GraphURL()}}},
		"secrets":  map[string]string{"contoso.clientSecret": "bench-secret"},
	}, nil); err != nil {
		return err
	}
	for {
		us, _ := e.Users("contoso")
		if len(us) >= n {
			break
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("only %d of %d users after 30 minutes", len(us), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	requests := int(math.Ceil(float64(n) / 20))
	seqBound := time.Duration(requests) * latency
	parBound := seqBound / 8
	batches := 0
	for _, r := range e.Requests() {
		if r.Method == "POST" && len(r.Path) > 7 && r.Path[len(r.Path)-7:] == "/$batch" {
			batches++
		}
	}
	fmt.Printf("%-64s %12s\n", "measure", "result")
	fmt.Printf("%-64s %12s\n", fmt.Sprintf("initial sync of %d users (directory added -> all in M365)", n), took.Round(10*time.Millisecond))
	fmt.Printf("%-64s %12.0f\n", "  users per second", float64(n)/took.Seconds())
	fmt.Printf("%-64s %12d\n", "  $batch requests sent", batches)
	fmt.Printf("%-64s %12s\n", fmt.Sprintf("  lower bound: %d batches of 20 x %s, one at a time", requests, latency), seqBound)
	fmt.Printf("%-64s %12s\n", "  lower bound with 8 batches in flight (the worker's parallelism)", parBound)

	// Password changes, one at a time: API answer -> password in M365.
	var lat []time.Duration
	for i := 0; i < samples && i < len(ids); i++ {
		pw := fmt.Sprintf("Changed-%05d-Pass!", i)
		if err := call(base, "POST", "/api/v1/users/"+ids[i*len(ids)/samples]+"/password", map[string]any{"password": pw}, nil); err != nil {
			return err
		}
		t0 := time.Now()
		upn := fmt.Sprintf("b%05d@contoso.example", i*len(ids)/samples)
		for {
			if got, _ := e.PasswordOf("contoso", upn); got == pw {
				break
			}
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("password of %s not delivered within a minute", upn)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("%-64s %12s\n", fmt.Sprintf("password change -> in M365, p50 (%d changes)", len(lat)), lat[len(lat)/2].Round(time.Millisecond))
	fmt.Printf("%-64s %12s\n", "password change -> in M365, p99", lat[(len(lat)-1)*99/100].Round(time.Millisecond))
	fmt.Printf("%-64s %12s\n", "  floor: two Graph requests (read the account, set the password)", 2*latency)
	return nil
}

func call(base, method, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
