// Command storebench measures the store at scale and prints the figures
// the foundation issue asks for: create throughput with 1 and 16 writers
// beside the raw etcd transaction rate of the same run, lookups, index
// load time and memory per user, and `headwater serve` start time and RSS.
//
// It runs everything on this machine: embedded etcd in a temporary
// directory, the store in-process, and the real binary for start time.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/embedded"
)

func main() {
	users := flag.Int("users", 100000, "users to fill the store with")
	phase := flag.Duration("phase", 5*time.Second, "duration of each timed throughput phase")
	binary := flag.String("binary", "", "headwater binary for the process start measurement (skipped when empty)")
	keep := flag.String("keep", "", "use and keep this data directory (a second run skips the fill)")
	cpuprofile := flag.String("loadprofile", "", "write a CPU profile of the index load to this file")
	flag.Parse()
	opts := options{keep: *keep, loadProfile: *cpuprofile}
	if err := run(*users, *phase, *binary, opts); err != nil {
		fmt.Fprintln(os.Stderr, "storebench:", err)
		os.Exit(1)
	}
}

type options struct {
	keep        string
	loadProfile string
}

func run(n int, phase time.Duration, binary string, opts options) error {
	ctx := context.Background()
	dir := opts.keep
	if dir == "" {
		d, err := os.MkdirTemp("", "hw-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	srv, err := embedded.Start(ctx, embedded.Config{Dir: dir})
	if err != nil {
		return err
	}
	cli, err := srv.NewClient()
	if err != nil {
		return err
	}
	st := store.Open(cli, store.Options{})
	if err := st.WaitReady(ctx); err != nil {
		return err
	}
	fmt.Printf("# storebench: %d users, %d CPUs, %s, phases of %s\n\n", n, runtime.NumCPU(), runtime.Version(), phase)
	fmt.Printf("%-52s %14s\n", "measure", "result")
	row := func(name, value string) { fmt.Printf("%-52s %14s\n", name, value) }

	for _, w := range []int{1, 16} {
		if phase <= 0 {
			break
		}
		row(fmt.Sprintf("raw etcd Txn (3 compares, 4 puts), %d writer(s)", w), rate(rawTxn(ctx, cli, w, phase)))
		row(fmt.Sprintf("store CreateUser, %d writer(s)", w), rate(creates(ctx, st, w, phase)))
	}
	// The raw keys are not Headwater's: drop them so they do not weigh on
	// the load and start figures.
	if _, err := cli.Delete(ctx, "/rawbench/", clientv3.WithPrefix()); err != nil {
		return err
	}

	// Fill up to n users with batched creates, as an import would.
	have, _ := st.Counts()
	start := time.Now()
	if err := fill(ctx, st, n-have); err != nil {
		return err
	}
	have2, _ := st.Counts()
	row(fmt.Sprintf("store CreateUsers (bulk, 16 per Txn), 16 writers"), rate(float64(have2-have)/time.Since(start).Seconds()))

	names, emails := sample(ctx, st, 10000)
	runtime.GC()
	row("LookupUser by userName", nsop(lookups(ctx, st, store.ByUserName, names)))
	row("LookupUser by email", nsop(lookups(ctx, st, store.ByEmail, emails)))
	st.Close()

	// Index load into a fresh store: time and heap per user.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if opts.loadProfile != "" {
		f, err := os.Create(opts.loadProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if gc := os.Getenv("LOAD_GOGC"); gc != "" {
		n, _ := strconv.Atoi(gc)
		defer debug.SetGCPercent(debug.SetGCPercent(n))
	}
	t0 := time.Now()
	st2 := store.Open(cli, store.Options{})
	if err := st2.WaitReady(ctx); err != nil {
		return err
	}
	load := time.Since(t0)
	if opts.loadProfile != "" {
		pprof.StopCPUProfile()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	count, _ := st2.Counts()
	row(fmt.Sprintf("index load of %d users", count), load.Round(time.Millisecond).String())
	row("index heap per user", fmt.Sprintf("%d B", int64(after.HeapAlloc-before.HeapAlloc)/int64(count)))
	runtime.KeepAlive(st2)
	st2.Close()
	// What the embedded server's auto-compaction and daily defragmentation
	// do over time, done now so that the start figures see a settled file.
	if resp, err := cli.Get(ctx, "/"); err == nil {
		// A kept directory may already be compacted to this revision.
		if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
			return err
		}
	}
	if err := srv.Defragment(ctx); err != nil {
		return err
	}
	if info, err := os.Stat(filepath.Join(dir, "etcd", "member", "snap", "db")); err == nil {
		row("etcd database file after compaction and defrag", fmt.Sprintf("%d MiB", info.Size()>>20))
	}
	cli.Close()
	srv.Close()

	if binary != "" {
		ready, mem, err := serveStart(binary, dir)
		if err != nil {
			return err
		}
		row(fmt.Sprintf("headwater serve start until ready (%d users)", count), ready.Round(time.Millisecond).String())
		row("headwater serve RSS 10 s after ready", fmt.Sprintf("%d MiB", mem["VmRSS:"]>>20))
		row("  of which anonymous (heaps of Headwater and etcd)", fmt.Sprintf("%d MiB", mem["RssAnon:"]>>20))
		row("  of which file-backed (etcd's mmap of its db)", fmt.Sprintf("%d MiB", mem["RssFile:"]>>20))
		row("headwater serve anonymous RSS per user", fmt.Sprintf("%d B", mem["RssAnon:"]/int64(count)))
	}
	return nil
}

func rate(perSec float64) string { return fmt.Sprintf("%.0f /s", perSec) }
func nsop(ns float64) string     { return fmt.Sprintf("%.0f ns/op", ns) }

// rawTxn runs, for d, transactions shaped like a user create: three
// uniqueness compares and four puts, on keys of their own.
func rawTxn(ctx context.Context, cli *clientv3.Client, writers int, d time.Duration) float64 {
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	value := strings.Repeat("x", 700)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				id := uuid.NewString()
				k := "/rawbench/" + id
				_, err := cli.Txn(ctx).If(
					clientv3.Compare(clientv3.CreateRevision(k), "=", 0),
					clientv3.Compare(clientv3.CreateRevision(k+"/a"), "=", 0),
					clientv3.Compare(clientv3.CreateRevision(k+"/b"), "=", 0),
				).Then(
					clientv3.OpPut(k, value), clientv3.OpPut(k+"/a", id), clientv3.OpPut(k+"/b", id), clientv3.OpPut(k+"/c", id),
				).Commit()
				if err == nil {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}

// fakeHash is an argon2id string of the real length, so records have
// their real size without paying for hashing in a store benchmark.
const fakeHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

var seq atomic.Int64

func newUser() *store.User {
	i := seq.Add(1)
	name := fmt.Sprintf("user%08d", i)
	now := time.Now().UTC()
	return &store.User{
		UserName:    name,
		ExternalID:  "hr-" + strconv.FormatInt(i, 10),
		Name:        store.Name{GivenName: "Given" + strconv.FormatInt(i%1000, 10), FamilyName: "Family" + strconv.FormatInt(i%5000, 10)},
		DisplayName: "Given Family " + name,
		Emails: []store.Email{
			{Value: name + "@example.com", Type: "work", Primary: true},
			{Value: name + "@home.example.org", Type: "home"},
		},
		Title:      "Engineer",
		Enterprise: store.Enterprise{EmployeeNumber: strconv.FormatInt(i, 10), Department: "R&D"},
		State:      store.StateActive,
		Password:   &store.Password{Hash: fakeHash, ChangedAt: now},
		Created:    now,
		Modified:   now,
	}
}

func creates(ctx context.Context, st store.Store, writers int, d time.Duration) float64 {
	var done atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := st.CreateUser(ctx, newUser(), store.Write{}); err == nil {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}

func fill(ctx context.Context, st store.Store, n int) error {
	if n <= 0 {
		return nil
	}
	jobs := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	var made atomic.Int64
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for size := range jobs {
				batch := make([]*store.User, size)
				for i := range batch {
					batch[i] = newUser()
				}
				_, es := st.CreateUsers(ctx, batch, nil)
				for _, err := range es {
					if err != nil {
						errs <- err
						return
					}
				}
				if m := made.Add(int64(size)); m%100000 < int64(size) {
					fmt.Fprintf(os.Stderr, "# filled %d/%d (%.0f/s)\n", m, n, float64(m)/time.Since(start).Seconds())
				}
			}
		}()
	}
	for left := n; left > 0; left -= 16 {
		select {
		case jobs <- min(16, left):
		case err := <-errs:
			close(jobs)
			return err
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func sample(ctx context.Context, st store.Store, n int) (names, emails []string) {
	_ = st.EachUser(ctx, "", func(u *store.User) bool {
		names = append(names, strings.ToUpper(u.UserName))
		emails = append(emails, u.PrimaryEmail())
		return len(names) < n
	})
	rand.Shuffle(len(names), func(i, j int) {
		names[i], names[j] = names[j], names[i]
		emails[i], emails[j] = emails[j], emails[i]
	})
	return names, emails
}

func lookups(ctx context.Context, st store.Store, by store.LookupField, keys []string) float64 {
	const rounds = 1000000
	start := time.Now()
	for i := 0; i < rounds; i++ {
		if _, err := st.LookupUser(ctx, by, keys[i%len(keys)]); err != nil {
			panic(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / rounds
}

// serveStart runs the real binary on the filled data directory and
// reports the time until its ready file appears and its memory then
// (VmRSS, RssAnon, RssFile from /proc, in bytes).
func serveStart(binary, dataDir string) (time.Duration, map[string]int64, error) {
	ready := filepath.Join(dataDir, "ready.json")
	cmd := exec.Command(binary, "serve", "--ready-file", ready)
	cmd.Env = append(os.Environ(), "HEADWATER_HTTP_ADDR=127.0.0.1:0", "HEADWATER_LDAP_ADDR=127.0.0.1:0", "HEADWATER_DATA_DIR="+dataDir, "HEADWATER_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	for {
		if data, err := os.ReadFile(ready); err == nil && json.Valid(data) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return 0, nil, fmt.Errorf("headwater serve not ready within 5 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	// The server returns the load's garbage to the OS just after ready.
	time.Sleep(10 * time.Second)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return took, nil, err
	}
	mem := map[string]int64{}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "VmRSS") || strings.HasPrefix(line, "Rss") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			mem[f[0]] = kb << 10
		}
	}
	return took, mem, nil
}
