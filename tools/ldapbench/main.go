// Command ldapbench compares Headwater's LDAP front end with OpenLDAP's slapd
// on this machine, in one run: both are seeded with the same users, then
// driven with uid searches and simple binds by go-ldap clients. It prints
// throughput, latency and the server process's CPU time per operation.
//
// The client runs on the same machine and may saturate before the servers
// do; CPU per operation is the comparable figure.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority/password"
)

const (
	slapdPath  = "/usr/sbin/slapd"
	suffix     = "dc=example,dc=com"
	people     = "ou=people," + suffix
	userPW     = "User-Pass-2026-bench"
	rootPW     = "Root-Pass-2026-bench"
	benchPW    = "Bench-Pass-2026-x"
	adminToken = "ldapbench-admin-token-0123456789abcdef"
	clkTck     = 100 // sysconf(_SC_CLK_TCK) is 100 on every Linux we run on
)

var (
	cleanMu  sync.Mutex
	cleanups []func()
)

func atExit(f func()) { cleanMu.Lock(); cleanups = append(cleanups, f); cleanMu.Unlock() }

func cleanup() {
	cleanMu.Lock()
	defer cleanMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func main() {
	binary := flag.String("binary", "bin/headwater", "headwater binary")
	phase := flag.Duration("phase", 5*time.Second, "duration of each timed phase")
	users := flag.Int("users", 10000, "users to seed in each server")
	only := flag.String("only", "", "run only phases of these kinds, comma-separated: search, first, repeat")
	flag.Parse()
	onlyKinds = *only
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; cleanup(); os.Exit(1) }()
	err := run(*binary, *phase, *users)
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ldapbench:", err)
		os.Exit(1)
	}
}

// server is one directory under test.
type server struct {
	name           string
	pid            int
	addr           string
	bindDN, bindPW string
	cached         bool         // remembers verified credentials (first binds must not repeat)
	next           atomic.Int64 // next never-bound user for first-bind phases
	cmd            *exec.Cmd
	done           chan struct{} // closed when the process exits
}

// onlyKinds restricts the phases run (-only); empty runs them all.
var onlyKinds string

func userName(i int) string { return fmt.Sprintf("user%05d", i+1) }

func run(binary string, phase time.Duration, n int) error {
	if _, err := os.Stat(slapdPath); err != nil {
		return fmt.Errorf("%s not found: install OpenLDAP (apt-get install -y slapd ldap-utils, or make bench-ldap)", slapdPath)
	}
	if _, err := os.Stat(binary); err != nil {
		return fmt.Errorf("headwater binary %s not found (go build -o bin/headwater ./cmd/headwater): %v", binary, err)
	}
	tmp, err := os.MkdirTemp("", "ldapbench-")
	if err != nil {
		return err
	}
	atExit(func() { os.RemoveAll(tmp) })
	fmt.Printf("# ldapbench: %d users, %d CPUs, phases of %s\n", n, runtime.NumCPU(), phase)
	sl, err := startSlapd(filepath.Join(tmp, "slapd"), n)
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	hw, err := startHeadwater(binary, filepath.Join(tmp, "hw"), n)
	if err != nil {
		return fmt.Errorf("headwater: %w", err)
	}
	type phaseDef struct {
		name string
		kind string
		conc int
	}
	phases := []phaseDef{
		{"search uid c=1", "search", 1}, {"search uid c=16", "search", 16}, {"search uid c=64", "search", 64},
		{"first bind c=1", "first", 1}, {"first bind c=16", "first", 16},
		{"repeated bind c=1", "repeat", 1}, {"repeated bind c=16", "repeat", 16},
	}
	fmt.Printf("\n%-20s %-10s %10s %10s %10s %14s %8s %9s\n", "phase", "server", "ops/s", "p50", "p99", "CPU µs/op", "errors", "HW/slapd")
	var problems []string
	for _, p := range phases {
		if onlyKinds != "" && !slices.Contains(strings.Split(onlyKinds, ","), p.kind) {
			continue
		}
		var cpu [2]float64
		for i, s := range []*server{sl, hw} {
			r, err := load(s, p.kind, p.conc, phase, n)
			if err != nil {
				return fmt.Errorf("%s %s: %w", s.name, p.name, err)
			}
			cpu[i] = r.cpuPerOp
			ratio := ""
			if i == 1 && cpu[0] > 0 {
				ratio = fmt.Sprintf("%.2fx", cpu[1]/cpu[0])
			}
			fmt.Printf("%-20s %-10s %10.0f %10s %10s %14.1f %8d %9s\n", p.name, s.name, r.opsPerSec,
				fmtDur(r.p50), fmtDur(r.p99), r.cpuPerOp, r.errors, ratio)
			if r.errors > 0 {
				problems = append(problems, fmt.Sprintf("%s %s: %d errors, first: %s", s.name, p.name, r.errors, r.firstErr))
			}
			if r.note != "" {
				problems = append(problems, fmt.Sprintf("%s %s: %s", s.name, p.name, r.note))
			}
		}
	}
	fmt.Println("\nClient and servers share this machine; the client may saturate first, so CPU µs/op is the comparable figure.")
	for _, p := range problems {
		fmt.Println("! " + p)
	}
	for _, s := range []*server{sl, hw} {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited during the run", s.name)
		default:
		}
	}
	return nil
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func slappasswd(pw string) (string, error) {
	out, err := exec.Command("slappasswd", "-h", "{SSHA}", "-s", pw).Output()
	if err != nil {
		return "", fmt.Errorf("slappasswd (is ldap-utils/slapd installed?): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// spawn starts cmd, logging to dir/<name>.log, and registers its termination.
func spawn(cmd *exec.Cmd, dir, name string) (chan struct{}, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	atExit(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return done, nil
}

func logTail(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func startSlapd(dir string, n int) (*server, error) {
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	rootHash, err := slappasswd(rootPW)
	if err != nil {
		return nil, err
	}
	userHash, err := slappasswd(userPW)
	if err != nil {
		return nil, err
	}
	// objectClass eq is part of every sane slapd setup: back-mdb ORs
	// (objectClass=referral) into each search filter, and without that index
	// every subtree search scans all entries.
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "%[2]s"
rootdn "cn=admin,%[2]s"
rootpw %[3]s
directory %[1]s/db
maxsize 1073741824
index objectClass eq
index uid,mail eq
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
`, dir, suffix, rootHash)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", suffix)
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", people)
	for i := 0; i < n; i++ {
		u := userName(i)
		fmt.Fprintf(&b, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: %s\ncn: G F\nsn: F\ngivenName: G\n"+
			"mail: %s@example.com\nuidNumber: %d\ngidNumber: 10000\nhomeDirectory: /home/%s\nuserPassword: %s\n\n",
			u, people, u, u, 10000+i, u, userHash)
	}
	ldif := filepath.Join(dir, "users.ldif")
	if err := os.WriteFile(ldif, b.Bytes(), 0o600); err != nil {
		return nil, err
	}
	start := time.Now()
	if out, err := exec.Command("slapadd", "-q", "-f", confPath, "-l", ldif).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slapadd: %v: %s", err, out)
	}
	fmt.Printf("# slapd: slapadd of %d users took %s\n", n, time.Since(start).Round(time.Millisecond))
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(slapdPath, "-f", confPath, "-h", "ldap://"+addr+"/", "-d", "0")
	done, err := spawn(cmd, dir, "slapd")
	if err != nil {
		return nil, err
	}
	s := &server{name: "slapd", pid: cmd.Process.Pid, addr: addr, bindDN: "cn=admin," + suffix, bindPW: rootPW, cmd: cmd, done: done}
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := s.dial()
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-done:
			return nil, fmt.Errorf("slapd exited: %s", logTail(dir, "slapd"))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("slapd did not answer: %v", err)
		}
	}
}

func startHeadwater(binary, dir string, n int) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready.json")
	cmd := exec.Command(binary, "serve", "--ready-file", ready)
	cmd.Env = append(os.Environ(), "HEADWATER_HTTP_ADDR=127.0.0.1:0", "HEADWATER_LDAP_ADDR=127.0.0.1:0",
		"HEADWATER_DATA_DIR="+filepath.Join(dir, "data"), "HEADWATER_ADMIN_TOKEN="+adminToken, "HEADWATER_LOG_LEVEL=warn")
	done, err := spawn(cmd, dir, "headwater")
	if err != nil {
		return nil, err
	}
	var addrs struct {
		HTTP string `json:"http_addr"`
		LDAP string `json:"ldap_addr"`
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &addrs) == nil && addrs.LDAP != "" {
			break
		}
		select {
		case <-done:
			return nil, fmt.Errorf("headwater exited: %s", logTail(dir, "headwater"))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.New("headwater did not write its ready file")
		}
	}
	hash, err := password.Hasher{}.Hash(userPW)
	if err != nil {
		return nil, err
	}
	base := "http://" + addrs.HTTP
	start := time.Now()
	for lo := 0; lo < n; lo += 1000 {
		type in struct {
			UserName     string `json:"userName"`
			GivenName    string `json:"givenName"`
			FamilyName   string `json:"familyName"`
			Email        string `json:"email"`
			PasswordHash string `json:"passwordHash"`
		}
		var batch []in
		for i := lo; i < min(lo+1000, n); i++ {
			batch = append(batch, in{userName(i), "G", "F", userName(i) + "@example.com", hash})
		}
		var out struct {
			Created, Failed int
			Results         []struct {
				Error json.RawMessage `json:"error"`
			}
		}
		if err := post(base+"/api/v1/users/import", map[string]any{"users": batch}, &out); err != nil {
			return nil, err
		}
		if out.Failed > 0 {
			for _, r := range out.Results {
				if len(r.Error) > 0 {
					return nil, fmt.Errorf("import: %d failed, first: %s", out.Failed, r.Error)
				}
			}
		}
	}
	fmt.Printf("# headwater: import of %d users took %s\n", n, time.Since(start).Round(time.Millisecond))
	sa := map[string]any{"name": "bench", "password": benchPW, "roles": []string{"ldap-reader"}}
	if err := post(base+"/api/v1/service-accounts", sa, nil); err != nil {
		return nil, err
	}
	return &server{name: "headwater", pid: cmd.Process.Pid, addr: addrs.LDAP, bindDN: "cn=bench,ou=services," + suffix,
		bindPW: benchPW, cached: true, cmd: cmd, done: done}, nil
}

func post(url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, buf.String())
	}
	if out != nil {
		return json.Unmarshal(buf.Bytes(), out)
	}
	return nil
}

func (s *server) dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldap://" + s.addr)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.bindDN, s.bindPW); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// cpuTicks reads utime+stime of pid from /proc/<pid>/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// After the command name, fields start at field 3 (state); utime is 14, stime 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	return ut + st, errors.Join(err1, err2)
}

type result struct {
	opsPerSec, cpuPerOp float64
	p50, p99            time.Duration
	errors              int64
	firstErr, note      string
}

func load(s *server, kind string, conc int, dur time.Duration, n int) (result, error) {
	conns := make([]*ldap.Conn, conc)
	for i := range conns {
		c, err := s.dial()
		if err != nil {
			return result{}, err
		}
		defer c.Close()
		conns[i] = c
		if kind == "repeat" { // the warm-up bind fills a credential cache
			if err := c.Bind("uid="+userName(i)+","+people, userPW); err != nil {
				return result{}, fmt.Errorf("warm-up bind: %w", err)
			}
			// A wrong password must still fail once the right one is cached.
			err := c.Bind("uid="+userName(i)+","+people, userPW+"-wrong")
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				return result{}, fmt.Errorf("bind with a wrong password after a good one: want invalidCredentials, got %v", err)
			}
			if err := c.Bind("uid="+userName(i)+","+people, userPW); err != nil {
				return result{}, fmt.Errorf("warm-up bind: %w", err)
			}
		}
	}
	var errs, exhausted atomic.Int64
	var errMu sync.Mutex
	var firstErr string
	fail := func(err error) {
		if errs.Add(1) == 1 {
			errMu.Lock()
			firstErr = err.Error()
			errMu.Unlock()
		}
	}
	lats := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	t0, err := cpuTicks(s.pid)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	deadline := start.Add(dur)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conns[w]
			for time.Now().Before(deadline) {
				var err error
				t := time.Now()
				switch kind {
				case "search":
					u := userName(rand.IntN(n))
					var r *ldap.SearchResult
					r, err = c.Search(ldap.NewSearchRequest(people, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
						"(uid="+u+")", []string{"uid", "mail", "uidNumber"}, nil))
					if err == nil && (len(r.Entries) != 1 || r.Entries[0].GetAttributeValue("uid") != u ||
						r.Entries[0].GetAttributeValue("mail") != u+"@example.com" || r.Entries[0].GetAttributeValue("uidNumber") == "") {
						err = fmt.Errorf("search %s: %d entries, first %v", u, len(r.Entries), firstEntry(r))
					}
				case "first":
					i := s.next.Add(1) - 1
					if i >= int64(n) {
						if s.cached {
							exhausted.Store(1)
							return
						}
						i %= int64(n) // slapd keeps no credential cache, so reuse is harmless
					}
					err = c.Bind("uid="+userName(int(i))+","+people, userPW)
				case "repeat":
					err = c.Bind("uid="+userName(w)+","+people, userPW)
				}
				if err != nil {
					fail(err)
					continue
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t1, err := cpuTicks(s.pid)
	if err != nil {
		return result{}, err
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	r := result{errors: errs.Load(), firstErr: firstErr}
	if exhausted.Load() == 1 {
		r.note = fmt.Sprintf("ran out of never-bound users after %s", elapsed.Round(time.Millisecond))
	}
	if len(all) == 0 {
		return r, nil
	}
	r.opsPerSec = float64(len(all)) / elapsed.Seconds()
	r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	r.cpuPerOp = float64(t1-t0) * (1e6 / clkTck) / float64(len(all)) // ticks → µs
	return r, nil
}

func firstEntry(r *ldap.SearchResult) string {
	if len(r.Entries) == 0 {
		return "none"
	}
	return r.Entries[0].DN
}
