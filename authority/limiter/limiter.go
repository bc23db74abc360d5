// Package limiter slows password guessing by backing off per account and per
// source network after failed password checks, for every front end alike.
package limiter

import (
	"container/list"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Config sets how many failures are free and how the backoff grows. Zero
// fields take the values of DefaultConfig.
type Config struct {
	AccountFree int           // failures allowed per account before backoff starts
	AddrFree    int           // failures allowed per source address before backoff starts
	Base        time.Duration // first backoff, doubling with each further failure
	Max         time.Duration // cap on a single backoff
	Forget      time.Duration // a key with no failure for this long is forgotten
	MaxEntries  int           // memory bound; the least recently failed keys go first
}

// DefaultConfig returns the limits used unless an administrator configures
// others. The address allowance is larger than the account one because many
// users may share an address behind NAT.
func DefaultConfig() Config {
	return Config{
		AccountFree: 5,
		AddrFree:    20,
		Base:        time.Second,
		Max:         15 * time.Minute,
		Forget:      time.Hour,
		MaxEntries:  100_000,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.AccountFree <= 0 {
		c.AccountFree = d.AccountFree
	}
	if c.AddrFree <= 0 {
		c.AddrFree = d.AddrFree
	}
	if c.Base <= 0 {
		c.Base = d.Base
	}
	if c.Max <= 0 {
		c.Max = d.Max
	}
	if c.Forget <= 0 {
		c.Forget = d.Forget
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = d.MaxEntries
	}
	return c
}

// Limiter tracks failures per account and per source address. It is safe for
// concurrent use and every method is O(1).
type Limiter struct {
	cfg Config
	now func() time.Time

	mu sync.Mutex
	// byKey indexes lru; lru is ordered by last failure, most recent first,
	// so both forgetting and eviction only ever look at its back.
	byKey map[string]*list.Element
	lru   *list.List
}

type entry struct {
	key      string
	free     int
	failures int
	last     time.Time // of the most recent failure
}

// New returns a Limiter. now is the clock, time.Now when nil.
func New(cfg Config, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		cfg:   cfg.withDefaults(),
		now:   now,
		byKey: make(map[string]*list.Element),
		lru:   list.New(),
	}
}

// Check reports how long the caller must wait before checking a password for
// account from addr; 0 means now. It records nothing, so callers check first,
// refuse while the wait is positive, and report the outcome with Failure or
// Success.
func (l *Limiter) Check(account, addr string) time.Duration {
	acct, src := accountKey(account), addrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	return max(l.wait(acct, now), l.wait(src, now))
}

// Failure records a failed password check.
func (l *Limiter) Failure(account, addr string) {
	acct, src := accountKey(account), addrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.forgetOld(now)
	if acct != "" {
		l.fail(acct, l.cfg.AccountFree, now)
	}
	if src != "" {
		l.fail(src, l.cfg.AddrFree, now)
	}
	for l.lru.Len() > l.cfg.MaxEntries {
		l.remove(l.lru.Back())
	}
}

// Success clears the account's failures. The address keeps its count until
// Forget passes: a sprayer who knows one valid password must not be able to
// reset its address with it.
func (l *Limiter) Success(account, addr string) {
	acct := accountKey(account)
	if acct == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[acct]; ok {
		l.remove(el)
	}
}

// Len returns the number of accounts and addresses currently tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetOld(l.now())
	return l.lru.Len()
}

func (l *Limiter) wait(key string, now time.Time) time.Duration {
	if key == "" {
		return 0
	}
	el, ok := l.byKey[key]
	if !ok {
		return 0
	}
	e := el.Value.(*entry)
	if l.forgotten(e, now) || e.failures <= e.free {
		return 0
	}
	return max(0, e.last.Add(l.backoff(e.failures-e.free)).Sub(now))
}

// backoff returns Base doubled n-1 times, capped at Max; the loop stops at the
// cap, so it runs at most a few dozen times whatever n is.
func (l *Limiter) backoff(n int) time.Duration {
	d := l.cfg.Base
	for i := 1; i < n && d < l.cfg.Max; i++ {
		d *= 2
	}
	return min(d, l.cfg.Max)
}

func (l *Limiter) forgotten(e *entry, now time.Time) bool {
	return now.Sub(e.last) >= l.cfg.Forget
}

func (l *Limiter) fail(key string, free int, now time.Time) {
	if el, ok := l.byKey[key]; ok {
		e := el.Value.(*entry)
		if l.forgotten(e, now) {
			e.failures = 0
		}
		e.failures++
		e.last = now
		l.lru.MoveToFront(el)
		return
	}
	l.byKey[key] = l.lru.PushFront(&entry{key: key, free: free, failures: 1, last: now})
}

// forgetOld drops forgotten entries from the back of the list. Each entry is
// dropped once, so the cost is amortised O(1) per call.
func (l *Limiter) forgetOld(now time.Time) {
	for el := l.lru.Back(); el != nil && l.forgotten(el.Value.(*entry), now); el = l.lru.Back() {
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.byKey, el.Value.(*entry).key)
	l.lru.Remove(el)
}

// accountKey normalises an account name so that "Alice" and " alice " share
// one counter.
func accountKey(account string) string {
	account = strings.ToLower(strings.TrimSpace(account))
	if account == "" {
		return ""
	}
	return "a:" + account
}

// addrKey maps "ip", "ip:port" or "[v6]:port" to the network it counts
// against: the IPv4 address, or the IPv6 /64, since one client usually holds
// a whole /64 and could otherwise rotate through it.
func addrKey(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ""
	}
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		ip = ap.Addr()
	} else if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")); err == nil {
		ip = a
	} else {
		// Not an IP (a host name from a proxy header, say): still count it,
		// by name, so that it cannot escape the limit.
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		return "h:" + strings.ToLower(addr)
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "n:" + p.String()
	}
	return "n:" + ip.String()
}
