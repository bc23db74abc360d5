package limiter

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAccountBackoff(t *testing.T) {
	clk := newClock()
	l := New(Config{}, clk.Now)
	// Expected wait after each failure, all recorded at the same instant.
	want := []time.Duration{0, 0, 0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		l.Failure("alice", "")
		if got := l.Check("alice", ""); got != w {
			t.Fatalf("after %d failures Check = %v, want %v", i+1, got, w)
		}
	}
	clk.Advance(3 * time.Second)
	if got := l.Check("alice", ""); got != 5*time.Second {
		t.Errorf("3s later Check = %v, want 5s", got)
	}
	clk.Advance(5 * time.Second)
	if got := l.Check("alice", ""); got != 0 {
		t.Errorf("after waiting Check = %v, want 0", got)
	}
	if got := l.Check("bob", ""); got != 0 {
		t.Errorf("other account Check = %v, want 0", got)
	}
}

func TestCap(t *testing.T) {
	clk := newClock()
	l := New(Config{Max: 10 * time.Second}, clk.Now)
	for range 1000 {
		l.Failure("alice", "")
	}
	if got := l.Check("alice", ""); got != 10*time.Second {
		t.Errorf("Check = %v, want the 10s cap", got)
	}
	l = New(Config{}, clk.Now)
	for range 200 {
		l.Failure("alice", "")
	}
	if got := l.Check("alice", ""); got != 15*time.Minute {
		t.Errorf("Check = %v, want the default 15m cap", got)
	}
}

func TestForget(t *testing.T) {
	clk := newClock()
	l := New(Config{Forget: time.Hour}, clk.Now)
	for range 8 {
		l.Failure("alice", "192.0.2.1")
	}
	clk.Advance(59 * time.Minute)
	l.Failure("alice", "") // keeps the account alive; the address ages on
	// The account's backoff continues from 9 failures.
	if got := l.Check("alice", ""); got != 8*time.Second {
		t.Errorf("Check = %v, want 8s", got)
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	clk.Advance(time.Minute)
	if got := l.Len(); got != 1 {
		t.Errorf("after the address's Forget Len = %d, want 1", got)
	}
	clk.Advance(time.Hour)
	if got := l.Check("alice", ""); got != 0 {
		t.Errorf("after Forget Check = %v, want 0", got)
	}
	l.Failure("alice", "")
	if got := l.Check("alice", ""); got != 0 {
		t.Errorf("first failure after Forget Check = %v, want 0 (count restarted)", got)
	}
	if got := l.Len(); got != 1 {
		t.Errorf("Len = %d, want 1", got)
	}
}

func TestSuccess(t *testing.T) {
	clk := newClock()
	l := New(Config{AddrFree: 6}, clk.Now)
	for range 8 {
		l.Failure(" Alice ", "192.0.2.1:4242")
	}
	if l.Check("alice", "") == 0 {
		t.Fatal("account not blocked after 8 failures")
	}
	l.Success("ALICE", "192.0.2.1:4242")
	if got := l.Check("alice", ""); got != 0 {
		t.Errorf("account Check after Success = %v, want 0", got)
	}
	// The address keeps its count: 8 failures with 6 free is 2s.
	if got := l.Check("alice", "192.0.2.1"); got != 2*time.Second {
		t.Errorf("address Check after Success = %v, want 2s", got)
	}
	clk.Advance(time.Hour)
	if got := l.Check("", "192.0.2.1"); got != 0 {
		t.Errorf("address Check after Forget = %v, want 0", got)
	}
}

// TestSpraying is one address trying one password against many accounts: no
// account reaches its limit, the address does.
func TestSpraying(t *testing.T) {
	clk := newClock()
	l := New(Config{}, clk.Now)
	for i := range 20 {
		l.Failure(fmt.Sprintf("user%d", i), "198.51.100.7:5000")
	}
	if got := l.Check("user99", "198.51.100.7:6000"); got != 0 {
		t.Errorf("after 20 failures Check = %v, want 0", got)
	}
	l.Failure("user20", "198.51.100.7:5001")
	if got := l.Check("user99", "198.51.100.7"); got != time.Second {
		t.Errorf("after 21 failures Check for a fresh account = %v, want 1s", got)
	}
	if got := l.Check("user99", "198.51.100.8"); got != 0 {
		t.Errorf("other address Check = %v, want 0", got)
	}
	if got := l.Check("user99", ""); got != 0 {
		t.Errorf("no address Check = %v, want 0", got)
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"192.0.2.1", "n:192.0.2.1"},
		{"192.0.2.1:389", "n:192.0.2.1"},
		{" 192.0.2.1:389 ", "n:192.0.2.1"},
		{"[::ffff:192.0.2.1]:636", "n:192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "n:2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "n:2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1%eth0]:443", "n:2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1]", "n:2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "n:2001:db8:1:3::/64"},
		{"proxy.example.com:8080", "h:proxy.example.com"},
		{"Proxy.Example.com", "h:proxy.example.com"},
	}
	for _, tt := range tests {
		if got := addrKey(tt.in); got != tt.want {
			t.Errorf("addrKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIPv6Aggregation(t *testing.T) {
	clk := newClock()
	l := New(Config{AddrFree: 3}, clk.Now)
	for i := range 4 {
		l.Failure(fmt.Sprintf("user%d", i), fmt.Sprintf("[2001:db8:aa:bb::%x]:1234", i+1))
	}
	if got := l.Check("new", "2001:db8:aa:bb:dead:beef::1"); got != time.Second {
		t.Errorf("same /64 Check = %v, want 1s", got)
	}
	if got := l.Check("new", "2001:db8:aa:bc::1"); got != 0 {
		t.Errorf("neighbouring /64 Check = %v, want 0", got)
	}
}

func TestEviction(t *testing.T) {
	clk := newClock()
	l := New(Config{MaxEntries: 100}, clk.Now)
	for i := range 1000 {
		l.Failure(fmt.Sprintf("user%d", i), fmt.Sprintf("192.0.2.%d", i%7))
		if n := l.Len(); n > 100 {
			t.Fatalf("Len = %d after %d failures, want <= 100", n, i+1)
		}
	}
	// The addresses fail constantly, so they are recent and must survive.
	for range 30 {
		l.Failure("", "192.0.2.0")
	}
	if got := l.Check("", "192.0.2.0"); got == 0 {
		t.Error("recently failing address was evicted")
	}
	// The oldest accounts are gone; the newest are kept.
	if _, ok := l.byKey[accountKey("user0")]; ok {
		t.Error("oldest account still tracked")
	}
	if _, ok := l.byKey[accountKey("user999")]; !ok {
		t.Error("newest account evicted")
	}
}

func TestEmptyKeys(t *testing.T) {
	l := New(Config{}, nil)
	for range 100 {
		l.Failure("", "")
		l.Failure("  ", "")
	}
	if l.Len() != 0 || l.Check("", "") != 0 {
		t.Errorf("empty account and address were recorded: Len = %d", l.Len())
	}
	l.Success("", "")
}

func TestConcurrent(t *testing.T) {
	clk := newClock()
	l := New(Config{MaxEntries: 50}, clk.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				acct := fmt.Sprintf("user%d", (g*31+i)%97)
				addr := fmt.Sprintf("[2001:db8:%x::1]:443", i%13)
				switch i % 5 {
				case 0:
					l.Success(acct, addr)
				case 1:
					clk.Advance(time.Second)
					l.Check(acct, addr)
				default:
					l.Failure(acct, addr)
				}
				if n := l.Len(); n > 50 {
					t.Errorf("Len = %d, want <= 50", n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDefaults(t *testing.T) {
	l := New(Config{Base: -1}, nil)
	if l.cfg != DefaultConfig() {
		t.Errorf("zero/negative config = %+v, want %+v", l.cfg, DefaultConfig())
	}
}
