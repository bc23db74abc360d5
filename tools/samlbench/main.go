// Command samlbench measures SAML sign-ins end to end over HTTP on this
// machine, with 8 concurrent browsers (HTTP clients with cookie jars):
//
//   - password sign-in: SP-initiated request, login form, POST of the
//     password (argon2id), signed response;
//   - sign-in with an existing session: request, signed response;
//
// printed beside the ceiling set by RSA-2048 signatures measured in the
// same run (one signature per response, and two: response and assertion,
// Headwater's default).
package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/headwater/headwater/config"
	"github.com/headwater/headwater/server"
)

const (
	token    = "samlbench-admin-token-0123456789"
	spEntity = "https://bench-sp.example.com/metadata"
	acs      = "https://bench-sp.example.com/acs"
	password = "Bench-Password-2026"
	clients  = 8
)

func main() {
	phase := flag.Duration("phase", 5*time.Second, "duration of each timed phase")
	users := flag.Int("users", 200, "users to sign in as")
	flag.Parse()
	if err := run(*phase, *users); err != nil {
		fmt.Fprintln(os.Stderr, "samlbench:", err)
		os.Exit(1)
	}
}

func run(phase time.Duration, n int) error {
	dir, err := os.MkdirTemp("", "hw-samlbench-")
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
	// The bench signs in as each user many times a second; the limiter
	// only counts failures, and none happen.
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
	if err := seed(base, n); err != nil {
		return err
	}
	fmt.Printf("# samlbench: %d clients, %d users, phases of %s, RSA-2048 SHA-256, response and assertion signed\n\n", clients, n, phase)
	fmt.Printf("%-52s %12s %10s %10s\n", "measure", "per second", "p50", "p99")

	var seq atomic.Int64
	jars := make([]*http.Client, clients)
	for i := range jars {
		jar, _ := cookiejar.New(nil)
		jars[i] = &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	}
	// Password sign-ins: a fresh browser each time.
	rate, lat, errs := timed(phase, func(c int) error {
		jar, _ := cookiejar.New(nil)
		cl := &http.Client{Jar: jar, Transport: jars[c].Transport}
		i := seq.Add(1)
		return signIn(cl, base, fmt.Sprintf("bench%04d", int(i)%n), i)
	})
	row("password sign-in + signed response", rate, lat, errs)
	// Existing sessions: each client signs in once, then asks again and again.
	for c := range jars {
		if err := signIn(jars[c], base, fmt.Sprintf("bench%04d", c%n), seq.Add(1)); err != nil {
			return err
		}
	}
	rate, lat, errs = timed(phase, func(c int) error { return sso(jars[c], base, seq.Add(1)) })
	row("sign-in with a session (request -> signed response)", rate, lat, errs)

	sig := signatures(phase)
	fmt.Printf("%-52s %12.0f\n", "ceiling: RSA-2048 signatures, 8 goroutines", sig)
	fmt.Printf("%-52s %12.0f\n", "  = responses with one signature each", sig)
	fmt.Printf("%-52s %12.0f\n", "  = responses with two (response + assertion)", sig/2)
	return nil
}

func row(name string, rate float64, lat []time.Duration, errs int64) {
	fmt.Printf("%-52s %12.1f %10s %10s", name, rate, pct(lat, 50), pct(lat, 99))
	if errs > 0 {
		fmt.Printf("  (%d errors)", errs)
	}
	fmt.Println()
}

func seed(base string, n int) error {
	var users []map[string]any
	for i := 0; i < n; i++ {
		users = append(users, map[string]any{"userName": fmt.Sprintf("bench%04d", i), "email": fmt.Sprintf("bench%04d@example.com", i),
			"password": password, "state": "active"})
	}
	b, _ := json.Marshal(map[string]any{"users": users})
	if err := admin(base, "POST", "/api/v1/users/import", "application/json", b); err != nil {
		return fmt.Errorf("seeding users: %w", err)
	}
	md := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + spEntity + `"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + acs + `" index="0"/></SPSSODescriptor></EntityDescriptor>`
	return admin(base, "POST", "/api/v1/saml/service-providers", "application/samlmetadata+xml", []byte(md))
}

func admin(base, method, path, ct string, body []byte) error {
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return nil
}

func requestURL(base string, i int64) string {
	x := fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-bench-%d-%d" Version="2.0" IssueInstant="%s" Destination="%s/saml/sso" AssertionConsumerServiceURL="%s"><saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>`,
		time.Now().UnixNano(), i, time.Now().UTC().Format(time.RFC3339), base, acs, spEntity)
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write([]byte(x))
	w.Close()
	return base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	nextRE = regexp.MustCompile(`name="next" value="([^"]+)"`)
)

func get(c *http.Client, u string) (string, string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.Request.URL.String(), err
}

// signIn is a fresh browser's SP-initiated sign-in with a password.
func signIn(c *http.Client, base, user string, i int64) error {
	page, at, err := get(c, requestURL(base, i))
	if err != nil {
		return err
	}
	if !strings.Contains(at, "/login") {
		return fmt.Errorf("expected the login page, got %s", at)
	}
	m, nm := csrfRE.FindStringSubmatch(page), nextRE.FindStringSubmatch(page)
	if m == nil || nm == nil {
		return fmt.Errorf("login form without csrf/next")
	}
	next := strings.ReplaceAll(nm[1], "&amp;", "&")
	resp, err := c.PostForm(base+"/login", url.Values{"username": {user}, "password": {password}, "csrf": {m[1]}, "next": {next}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(b, []byte(`name="SAMLResponse"`)) {
		return fmt.Errorf("no SAML response after login (%d at %s)", resp.StatusCode, resp.Request.URL)
	}
	return nil
}

// sso is a sign-in of a browser that has a session.
func sso(c *http.Client, base string, i int64) error {
	page, _, err := get(c, requestURL(base, i))
	if err != nil {
		return err
	}
	if !strings.Contains(page, `name="SAMLResponse"`) {
		return fmt.Errorf("no SAML response")
	}
	return nil
}

func timed(d time.Duration, op func(c int) error) (float64, []time.Duration, int64) {
	var mu sync.Mutex
	var lat []time.Duration
	var done, errs atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t := time.Now()
				if err := op(c); err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "samlbench: first error:", err)
					}
					continue
				}
				mine = append(mine, time.Since(t))
				done.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), lat, errs.Load()
}

// signatures measures RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second
// with 8 goroutines: the work one XML signature costs beyond hashing.
func signatures(d time.Duration) float64 {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	sum := sha256.Sum256([]byte("a canonicalised SignedInfo element"))
	rate, _, _ := timed(d, func(int) error {
		_, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		return err
	})
	return rate
}

func pct(l []time.Duration, p int) string {
	if len(l) == 0 {
		return "-"
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	v := l[(len(l)-1)*p/100]
	switch {
	case v >= time.Second:
		return fmt.Sprintf("%.2fs", v.Seconds())
	case v >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(v.Microseconds())/1000)
	}
	return fmt.Sprintf("%dµs", v.Microseconds())
}
