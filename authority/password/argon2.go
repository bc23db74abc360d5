package password

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2Hash is a parsed PHC string such as
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
type argon2Hash struct {
	variant string // "argon2id" or "argon2i"
	params  Params
	salt    []byte
	key     []byte
}

func encodeArgon2(variant string, p Params, salt, key []byte) string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", variant, argon2.Version,
		p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key))
}

// parseArgon2 parses a PHC argon2 string and rejects parameters beyond lim
// before anything is allocated for them.
func parseArgon2(s string, lim limits) (argon2Hash, error) {
	var a argon2Hash
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return a, fmt.Errorf("%w: argon2: not a PHC string", ErrMalformedHash)
	}
	a.variant = parts[1]
	if a.variant != "argon2id" && a.variant != "argon2i" {
		return a, fmt.Errorf("%w: %.16q", ErrUnsupportedScheme, a.variant)
	}
	// Version 1.0 strings omit the v= segment; x/crypto only implements 1.3.
	if len(parts) >= 3 && strings.HasPrefix(parts[2], "m=") {
		return a, fmt.Errorf("%w: argon2 version 1.0", ErrUnsupportedScheme)
	}
	if len(parts) != 6 {
		return a, fmt.Errorf("%w: argon2: want 5 $-separated fields, got %d", ErrMalformedHash, len(parts)-1)
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return a, fmt.Errorf("%w: argon2: missing v=", ErrMalformedHash)
	}
	ver, err := parseDecimal(v)
	if err != nil {
		return a, fmt.Errorf("%w: argon2: version: %w", ErrMalformedHash, err)
	}
	if ver != argon2.Version {
		return a, fmt.Errorf("%w: argon2 version %d", ErrUnsupportedScheme, ver)
	}
	if a.params, err = parseArgon2Params(parts[3]); err != nil {
		return a, err
	}
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return a, fmt.Errorf("%w: argon2: salt: %w", ErrMalformedHash, err)
	}
	if a.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil {
		return a, fmt.Errorf("%w: argon2: key: %w", ErrMalformedHash, err)
	}
	a.params.SaltLen, a.params.KeyLen = uint32(len(a.salt)), uint32(len(a.key))
	if err := checkArgon2Params(a.params, lim); err != nil {
		return a, err
	}
	return a, nil
}

// parseArgon2Params parses "m=<KiB>,t=<passes>,p=<lanes>" in the order the
// PHC format fixes.
func parseArgon2Params(s string) (Params, error) {
	var p Params
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return p, fmt.Errorf("%w: argon2: want m=,t=,p=", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return p, fmt.Errorf("%w: argon2: want m=,t=,p=", ErrMalformedHash)
		}
		n, err := parseDecimal(v)
		if err != nil {
			return p, fmt.Errorf("%w: argon2: %s: %w", ErrMalformedHash, name, err)
		}
		vals[i] = n
	}
	// Range checks happen in checkArgon2Params; only guard the conversions.
	if vals[0] > 1<<32-1 || vals[1] > 1<<32-1 || vals[2] > 255 {
		return p, fmt.Errorf("%w: argon2: parameter out of range", ErrMalformedHash)
	}
	p.Memory, p.Time, p.Threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	return p, nil
}

// checkArgon2Params enforces RFC 9106's minimums (x/crypto panics below some
// of them) and lim's maximums.
func checkArgon2Params(p Params, lim limits) error {
	switch {
	case p.Threads < 1 || p.Threads > lim.argonThreads:
		return fmt.Errorf("%w: argon2: p=%d outside 1..%d", ErrMalformedHash, p.Threads, lim.argonThreads)
	case p.Time < 1 || p.Time > lim.argonTime:
		return fmt.Errorf("%w: argon2: t=%d outside 1..%d", ErrMalformedHash, p.Time, lim.argonTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > lim.argonMemory:
		return fmt.Errorf("%w: argon2: m=%d outside %d..%d KiB", ErrMalformedHash, p.Memory, 8*uint32(p.Threads), lim.argonMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: argon2: salt of %d bytes outside %d..%d", ErrMalformedHash, p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: argon2: key of %d bytes outside %d..%d", ErrMalformedHash, p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

func (a argon2Hash) matches(pw string) (bool, error) {
	p := a.params
	var key []byte
	if a.variant == "argon2i" {
		key = argon2.Key([]byte(pw), a.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	} else {
		key = argon2.IDKey([]byte(pw), a.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
	return subtle.ConstantTimeCompare(key, a.key) == 1, nil
}

// parseDecimal accepts only ASCII digits, unlike strconv which also takes a
// sign and underscores in some modes; the length bound keeps it overflow-free.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("number %q: want 1 to 10 digits", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("number %q: want digits only", s)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}
