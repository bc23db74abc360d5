// Package password hashes passwords with argon2id, verifies hashes imported
// from other directories, and enforces the password policy.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

var (
	// ErrMalformedHash means a stored hash could not be parsed or carries
	// parameters outside the limits this package is willing to compute.
	ErrMalformedHash = errors.New("malformed password hash")
	// ErrUnsupportedScheme means a stored hash uses a scheme this package
	// cannot verify (for example DES crypt or plaintext).
	ErrUnsupportedScheme = errors.New("unsupported password hash scheme")
	// ErrPasswordTooLong means the password exceeds MaxPasswordBytes. Hashing
	// cost of some imported schemes grows with the password length (sha-crypt
	// is quadratic in it), so an unbounded password is a denial-of-service lever.
	ErrPasswordTooLong = errors.New("password too long")
)

// MaxPasswordBytes bounds the password accepted by Hash and Verify. It is
// large enough for the default policy's 256 characters in any script.
const MaxPasswordBytes = 1024

// maxEncodedLen bounds a stored hash; every supported scheme fits easily, and
// the bound keeps base64 decoding of hostile input cheap.
const maxEncodedLen = 1024

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams returns the OWASP minimum recommendation for argon2id.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// limits caps the cost parameters read from a stored hash. Verify uses
// defaultLimits; tests and fuzzers pass tighter ones so they stay fast while
// exercising the same checks.
type limits struct {
	argonMemory    uint32 // KiB
	argonTime      uint32
	argonThreads   uint8
	bcryptCost     int
	shaCryptRounds int
}

func defaultLimits() limits {
	return limits{
		argonMemory:    1 << 20, // 1 GiB
		argonTime:      16,
		argonThreads:   64,
		bcryptCost:     16,
		shaCryptRounds: 1_000_000,
	}
}

// Salt and key lengths accepted from stored argon2 hashes. RFC 9106 asks for
// at least 8 bytes of salt; nothing in the wild uses keys shorter than 16.
const (
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// Hasher hashes and verifies passwords. The zero value hashes with
// DefaultParams.
type Hasher struct {
	Params Params
}

// params returns the effective parameters, so that a zero Hasher is usable.
func (h Hasher) params() Params {
	if h.Params == (Params{}) {
		return DefaultParams()
	}
	return h.Params
}

// Hash returns pw hashed with argon2id as a PHC string.
func (h Hasher) Hash(pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", fmt.Errorf("password: hash: %w (%d bytes, limit %d)", ErrPasswordTooLong, len(pw), MaxPasswordBytes)
	}
	p := h.params()
	if err := checkArgon2Params(p, defaultLimits()); err != nil {
		return "", fmt.Errorf("password: hash: configured argon2id parameters: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: hash: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodeArgon2("argon2id", p, salt, key), nil
}

// Verify checks pw against an encoded hash.
//
// Supported: $argon2id$ and $argon2i$ (bare or with OpenLDAP's "{ARGON2}"
// prefix), {SHA}, {SSHA}, {SHA256}, {SSHA256}, {SHA384}, {SSHA384}, {SHA512},
// {SSHA512} (prefixes case-insensitive), crypt strings $1$, $5$, $6$ (bare or
// after "{CRYPT}"), and bcrypt $2a$, $2b$, $2y$ (bare, or after "{BCRYPT}" or
// "{CRYPT}").
//
// needsRehash is only ever true when ok is true, so a caller that stores a new
// hash whenever it is set cannot be tricked into replacing a password after a
// failed check. It is true for every scheme but argon2id, and for argon2id
// hashes whose parameters differ from h.Params.
//
// CheckHash tells, without computing anything, whether Verify would refuse
// a hash.
//
// Errors wrap ErrMalformedHash, ErrUnsupportedScheme or ErrPasswordTooLong.
// Cost parameters in the stored hash are capped (argon2 m <= 1 GiB, t <= 16,
// p <= 64; bcrypt cost <= 16; sha-crypt rounds <= 1,000,000) so that a hostile
// hash cannot exhaust memory or CPU.
func (h Hasher) Verify(encoded, pw string) (ok bool, needsRehash bool, err error) {
	return h.verify(encoded, pw, defaultLimits())
}

// CheckHash reports whether encoded is a hash Verify accepts — a supported
// scheme, well formed, within the cost caps — without computing it, so that
// imports of thousands of existing hashes are validated cheaply. Errors wrap
// ErrMalformedHash or ErrUnsupportedScheme exactly as Verify's would for the
// same string.
func (h Hasher) CheckHash(encoded string) error {
	return checkHash(encoded, defaultLimits())
}

func checkHash(encoded string, lim limits) error {
	if _, err := parseHash(encoded, lim); err != nil {
		return fmt.Errorf("password: check hash: %w", err)
	}
	return nil
}

func (h Hasher) verify(encoded, pw string, lim limits) (ok bool, needsRehash bool, err error) {
	if len(pw) > MaxPasswordBytes {
		return false, false, fmt.Errorf("password: verify: %w (%d bytes, limit %d)", ErrPasswordTooLong, len(pw), MaxPasswordBytes)
	}
	// Everything Verify refuses is refused here, by the same code CheckHash
	// runs; only the key derivation below is Verify's own.
	sh, err := parseHash(encoded, lim)
	if err != nil {
		return false, false, fmt.Errorf("password: verify: %w", err)
	}
	keyDerivations.Add(1)
	if ok, err = sh.matches(pw); err != nil {
		return false, false, fmt.Errorf("password: verify: %w", err)
	}
	return ok, ok && h.outdated(sh), nil
}

// storedHash is a stored hash that parseHash accepted: a supported scheme,
// well formed and within the cost caps. All that is left is to compute it.
type storedHash interface {
	// matches hashes pw as the stored hash says and compares the results.
	// The parsers rule out every error the underlying libraries return, so
	// an error here is a parser bug (the fuzz tests look for one).
	matches(pw string) (bool, error)
}

// keyDerivations counts verify's calls of storedHash.matches, the only place a
// password is hashed for comparison. Only tests read it, to show that
// CheckHash, and Verify of a refused hash, never compute anything.
var keyDerivations atomic.Uint64

// outdated reports whether a hash should be replaced by one made with
// h.Params: every scheme but argon2id, and argon2id with other parameters.
func (h Hasher) outdated(sh storedHash) bool {
	a, ok := sh.(argon2Hash)
	return !ok || a.variant != "argon2id" || a.params != h.params()
}

// parseHash parses an encoded hash of any scheme Verify supports and checks
// it against lim, without computing anything.
func parseHash(encoded string, lim limits) (storedHash, error) {
	if encoded == "" {
		return nil, fmt.Errorf("%w: empty", ErrMalformedHash)
	}
	if len(encoded) > maxEncodedLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncodedLen)
	}
	switch {
	case encoded[0] == '{':
		end := strings.IndexByte(encoded, '}')
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated {SCHEME} prefix", ErrMalformedHash)
		}
		scheme, rest := strings.ToUpper(encoded[1:end]), encoded[end+1:]
		switch scheme {
		case "ARGON2":
			if !strings.HasPrefix(rest, "$argon2") {
				return nil, fmt.Errorf("%w: {ARGON2} not followed by $argon2", ErrMalformedHash)
			}
			return parseCrypt(rest, lim)
		case "BCRYPT":
			return stored(parseBcrypt(rest, lim))
		case "CRYPT":
			return parseCrypt(rest, lim)
		default:
			d, found := ldapDigests(scheme)
			if !found {
				return nil, fmt.Errorf("%w: {%.32q}", ErrUnsupportedScheme, scheme)
			}
			return stored(parseLDAPDigest(d, rest))
		}
	case encoded[0] == '$':
		return parseCrypt(encoded, lim)
	default:
		// Most likely a plaintext password; comparing those would make the
		// directory's secrets equivalent to passwords, so refuse.
		return nil, fmt.Errorf("%w: no scheme prefix", ErrUnsupportedScheme)
	}
}

// parseCrypt dispatches on the "$id$" of a modular crypt string.
func parseCrypt(s string, lim limits) (storedHash, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty crypt string", ErrMalformedHash)
	}
	if s[0] != '$' {
		return nil, fmt.Errorf("%w: traditional DES crypt or unknown crypt format", ErrUnsupportedScheme)
	}
	end := strings.IndexByte(s[1:], '$')
	if end < 0 {
		return nil, fmt.Errorf("%w: crypt string must start with $id$", ErrMalformedHash)
	}
	switch id := s[1 : 1+end]; id {
	case "argon2id", "argon2i":
		return stored(parseArgon2(s, lim))
	case "1", "5", "6":
		return stored(parseShaCrypt(s, lim))
	case "2a", "2b", "2y":
		return stored(parseBcrypt(s, lim))
	default:
		return nil, fmt.Errorf("%w: crypt id %.16q", ErrUnsupportedScheme, id)
	}
}

// stored turns a parser's concrete result into a storedHash, nil on error.
func stored[T storedHash](h T, err error) (storedHash, error) {
	if err != nil {
		return nil, err
	}
	return h, nil
}

// DummyVerify spends about as long as Verify of an argon2id hash made with
// h.Params. Call it when the account does not exist, so response time does
// not tell an attacker which account names are real.
func (h Hasher) DummyVerify(pw string) {
	if len(pw) > MaxPasswordBytes {
		return // Verify returns early for these too.
	}
	p := h.params()
	if checkArgon2Params(p, defaultLimits()) != nil {
		p = DefaultParams()
	}
	salt := make([]byte, p.SaltLen)
	want := make([]byte, p.KeyLen)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	subtle.ConstantTimeCompare(key, want)
}
