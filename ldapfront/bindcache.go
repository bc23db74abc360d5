package ldapfront

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// bindCache remembers, for a few minutes, that a password verified for an
// account, so that applications binding on every request do not pay an
// argon2 verification each time. It keeps an HMAC of the password under a
// key that exists only in this process's memory, together with the stored
// hash the password was checked against: a password change (a new hash)
// or a disabled account makes the entry useless at once. Nothing of it is
// ever written anywhere.
type bindCache struct {
	key     []byte
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	entries map[string]bindEntry
}

type bindEntry struct {
	mac     [32]byte
	hash    string // the stored verifier the password matched
	expires time.Time
}

func newBindCache(ttl time.Duration, max int) *bindCache {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &bindCache{key: key, ttl: ttl, max: max, entries: map[string]bindEntry{}}
}

func (c *bindCache) mac(account, password string) [32]byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(account))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// hit reports whether password was verified for account against the
// stored verifier hash within the TTL.
func (c *bindCache) hit(account, hash, password string) bool {
	m := c.mac(account, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[account]
	if !ok || time.Now().After(e.expires) || e.hash != hash {
		return false
	}
	return hmac.Equal(e.mac[:], m[:])
}

func (c *bindCache) remember(account, hash, password string) {
	m := c.mac(account, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		now := time.Now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries) // bounded memory beats a perfect cache
		}
	}
	c.entries[account] = bindEntry{mac: m, hash: hash, expires: time.Now().Add(c.ttl)}
}
