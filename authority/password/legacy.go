package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/GehirnInc/crypt"
	"github.com/GehirnInc/crypt/md5_crypt"
	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"golang.org/x/crypto/bcrypt"
)

// ldapDigest describes an RFC 2307-style {SCHEME}base64 hash as OpenLDAP and
// 389-DS write them: base64(H(pw || salt) || salt), salt empty when unsalted.
type ldapDigest struct {
	newHash func() hash.Hash
	size    int
	salted  bool
}

func ldapDigests(scheme string) (ldapDigest, bool) {
	switch scheme {
	case "SHA":
		return ldapDigest{sha1.New, sha1.Size, false}, true
	case "SSHA":
		return ldapDigest{sha1.New, sha1.Size, true}, true
	case "SHA256":
		return ldapDigest{sha256.New, sha256.Size, false}, true
	case "SSHA256":
		return ldapDigest{sha256.New, sha256.Size, true}, true
	case "SHA384":
		return ldapDigest{sha512.New384, sha512.Size384, false}, true
	case "SSHA384":
		return ldapDigest{sha512.New384, sha512.Size384, true}, true
	case "SHA512":
		return ldapDigest{sha512.New, sha512.Size, false}, true
	case "SSHA512":
		return ldapDigest{sha512.New, sha512.Size, true}, true
	}
	return ldapDigest{}, false
}

// ldapHash is a parsed {SCHEME}base64 digest.
type ldapHash struct {
	digest     ldapDigest
	want, salt []byte
}

func parseLDAPDigest(d ldapDigest, b64 string) (ldapHash, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return ldapHash{}, fmt.Errorf("%w: base64: %w", ErrMalformedHash, err)
	}
	if len(raw) < d.size || (!d.salted && len(raw) != d.size) {
		return ldapHash{}, fmt.Errorf("%w: digest of %d bytes, want %d", ErrMalformedHash, len(raw), d.size)
	}
	return ldapHash{d, raw[:d.size], raw[d.size:]}, nil
}

func (l ldapHash) matches(pw string) (bool, error) {
	h := l.digest.newHash()
	h.Write([]byte(pw))
	h.Write(l.salt)
	return subtle.ConstantTimeCompare(h.Sum(nil), l.want) == 1, nil
}

// shaCrypt describes one modular crypt scheme (md5-crypt or Drepper's
// sha-crypt).
type shaCrypt struct {
	newCrypter func() crypt.Crypter
	saltMax    int
	hashLen    int
	rounds     bool // whether "rounds=N$" may follow the id
}

func shaCrypts(id string) shaCrypt {
	switch id {
	case "1":
		return shaCrypt{md5_crypt.New, 8, 22, false}
	case "5":
		return shaCrypt{sha256_crypt.New, 16, 43, true}
	default:
		return shaCrypt{sha512_crypt.New, 16, 86, true}
	}
}

// shaCryptHash is a parsed $1$, $5$ or $6$ string.
type shaCryptHash struct {
	scheme  shaCrypt
	setting string // "$id$[rounds=N$]salt", as Generate takes it
	sum     string
}

// parseShaCrypt parses $1$, $5$ and $6$ strings. It parses the string itself
// rather than trusting the library's lenient parser, to cap rounds and to
// reject strings the library would silently misread (for example a salt that
// swallows the hash after "rounds=N$"). What it accepts, the library's parser
// (common.Salt.Decode) accepts too, so computing the hash cannot fail.
func parseShaCrypt(s string, lim limits) (shaCryptHash, error) {
	var zero shaCryptHash
	parts := strings.Split(s, "$")
	if len(parts) < 4 || len(parts) > 5 || parts[0] != "" {
		return zero, fmt.Errorf("%w: crypt: want $id$[rounds=N$]salt$hash", ErrMalformedHash)
	}
	c := shaCrypts(parts[1])
	setting := "$" + parts[1] + "$"
	if len(parts) == 5 {
		r, ok := strings.CutPrefix(parts[2], "rounds=")
		if !ok || !c.rounds {
			return zero, fmt.Errorf("%w: crypt: want $id$[rounds=N$]salt$hash", ErrMalformedHash)
		}
		n, err := parseDecimal(r)
		if err != nil {
			return zero, fmt.Errorf("%w: crypt: rounds: %w", ErrMalformedHash, err)
		}
		if n > uint64(lim.shaCryptRounds) {
			return zero, fmt.Errorf("%w: crypt: rounds=%d above limit %d", ErrMalformedHash, n, lim.shaCryptRounds)
		}
		// Below 1000 the algorithm itself clamps to 1000, as glibc does.
		setting += "rounds=" + r + "$"
		parts = append(parts[:2], parts[3:]...)
	}
	salt, sum := parts[2], parts[3]
	if strings.HasPrefix(salt, "rounds=") {
		return zero, fmt.Errorf("%w: crypt: rounds without salt", ErrMalformedHash)
	}
	if len(salt) > c.saltMax {
		return zero, fmt.Errorf("%w: crypt: salt longer than %d", ErrMalformedHash, c.saltMax)
	}
	if len(sum) != c.hashLen || !isCryptBase64(sum) {
		return zero, fmt.Errorf("%w: crypt: hash must be %d characters of ./0-9A-Za-z", ErrMalformedHash, c.hashLen)
	}
	return shaCryptHash{c, setting + salt, sum}, nil
}

func (s shaCryptHash) matches(pw string) (bool, error) {
	out, err := s.scheme.newCrypter().Generate([]byte(pw), []byte(s.setting))
	if err != nil {
		return false, fmt.Errorf("%w: crypt: %w", ErrMalformedHash, err)
	}
	got := out[strings.LastIndexByte(out, '$')+1:]
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.sum)) == 1, nil
}

func isCryptBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// bcryptHash is a parsed $2a$, $2b$ or $2y$ string; the three differ only in
// historic bugs of other implementations, not in the hash computed here.
type bcryptHash string

// parseBcrypt checks a bcrypt string more strictly than the library does, so
// that the library's comparison can fail only with a mismatch.
func parseBcrypt(s string, lim limits) (bcryptHash, error) {
	// $2b$NN$ + 22 salt chars + 31 hash chars.
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' ||
		(s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || !isCryptBase64(s[7:]) {
		return "", fmt.Errorf("%w: bcrypt: want $2a$, $2b$ or $2y$ followed by cost and 53 characters", ErrMalformedHash)
	}
	cost, err := parseDecimal(s[4:6])
	if err != nil {
		return "", fmt.Errorf("%w: bcrypt: cost: %w", ErrMalformedHash, err)
	}
	if cost < uint64(bcrypt.MinCost) || cost > uint64(lim.bcryptCost) {
		return "", fmt.Errorf("%w: bcrypt: cost %d outside %d..%d", ErrMalformedHash, cost, bcrypt.MinCost, lim.bcryptCost)
	}
	return bcryptHash(s), nil
}

func (b bcryptHash) matches(pw string) (bool, error) {
	err := bcrypt.CompareHashAndPassword([]byte(b), []byte(pw))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %w", ErrMalformedHash, err)
	}
}
