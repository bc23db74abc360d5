// Package seal encrypts secrets stored in etcd with AES-256-GCM under keys kept outside etcd,
// tagging every value with its key id so keys can rotate without breaking old values.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors returned by Open and KeyID, always wrapped with context; test with errors.Is.
var (
	// ErrMalformed means the value is not a sealed value at all (wrong prefix, bad encoding,
	// truncated), so no key was tried.
	ErrMalformed = errors.New("malformed sealed value")
	// ErrUnknownKey means the value names a key id this keyring does not hold, usually because
	// the key file was replaced instead of rotated.
	ErrUnknownKey = errors.New("unknown sealing key")
	// ErrAuth means the key is known but the value does not authenticate: it was altered, or it
	// was sealed for a different record (other aad).
	ErrAuth = errors.New("sealed value failed authentication")
)

const (
	prefix    = "hwseal1."
	keySize   = 32
	nonceLen  = 12
	tagLen    = 16
	maxKIDLen = 32
)

// Keyring holds the sealing keys from one key file. It never changes after Parse or Load, so
// one value can be shared by every goroutine; rotation produces a new Keyring from the file.
type Keyring struct {
	order []string // key ids in file order; order[0] is the active key
	aeads map[string]cipher.AEAD
}

// ActiveKeyID returns the id of the key Seal uses.
func (k *Keyring) ActiveKeyID() string {
	if k == nil || len(k.order) == 0 {
		return ""
	}
	return k.order[0]
}

// KeyIDs returns every key id in file order, the active one first.
func (k *Keyring) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.order...)
}

// Seal encrypts plaintext under the active key. aad is not stored but must be given again to
// Open; callers pass the etcd key of the record so a sealed value copied into another record
// does not open there.
//
// The result is "hwseal1.<kid>.<base64url(nonce || ciphertext || tag)>", plain ASCII that needs
// no escaping in JSON or YAML.
func (k *Keyring) Seal(plaintext, aad []byte) (string, error) {
	kid := k.ActiveKeyID()
	if kid == "" {
		return "", errors.New("seal: keyring has no keys; load it with seal.Load or seal.LoadOrCreate")
	}
	aead := k.aeads[kid]
	// A random nonce is safe here: with 96-bit nonces the collision risk stays negligible far
	// beyond the number of secrets one deployment seals under one key, and rotation resets it.
	buf := make([]byte, nonceLen, nonceLen+len(plaintext)+tagLen)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("seal: reading random nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:nonceLen], plaintext, fullAAD(kid, aad))
	return prefix + kid + "." + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same aad. Errors wrap ErrMalformed, ErrUnknownKey
// or ErrAuth and never contain the plaintext or the sealed bytes.
func (k *Keyring) Open(sealed string, aad []byte) ([]byte, error) {
	kid, body, err := split(sealed)
	if err != nil {
		return nil, fmt.Errorf("seal: open: %w", err)
	}
	var aead cipher.AEAD
	if k != nil {
		aead = k.aeads[kid]
	}
	if aead == nil {
		return nil, fmt.Errorf("seal: open: %w %q: the key file does not hold it; restore the key file that sealed this value (keys must be rotated with seal.Rotate, not replaced)", ErrUnknownKey, kid)
	}
	plaintext, err := aead.Open(nil, body[:nonceLen], body[nonceLen:], fullAAD(kid, aad))
	if err != nil {
		// The cipher's own error says nothing more useful, so it is replaced, not wrapped.
		return nil, fmt.Errorf("seal: open with key %q: %w: the value was altered or belongs to a different record", kid, ErrAuth)
	}
	return plaintext, nil
}

// NeedsReseal reports whether sealed was sealed under a key other than the active one, so a
// background pass can re-seal old values after rotation. A malformed value reports false: it
// cannot be re-sealed, and Open says why.
func (k *Keyring) NeedsReseal(sealed string) bool {
	kid, _, err := split(sealed)
	return err == nil && kid != k.ActiveKeyID()
}

// KeyID returns the id of the key that sealed the value, without needing the key.
func KeyID(sealed string) (string, error) {
	kid, _, err := split(sealed)
	if err != nil {
		return "", fmt.Errorf("seal: key id: %w", err)
	}
	return kid, nil
}

// split parses a sealed value into its key id and decoded body (nonce || ciphertext || tag).
// Its errors wrap ErrMalformed and describe only the shape, not the content.
func split(sealed string) (kid string, body []byte, err error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", nil, fmt.Errorf("%w: does not start with %q", ErrMalformed, prefix)
	}
	kid, enc, ok := strings.Cut(rest, ".")
	if !ok {
		return "", nil, fmt.Errorf("%w: no separator after the key id", ErrMalformed)
	}
	if !validKID(kid) {
		return "", nil, fmt.Errorf("%w: key id is not 1-%d characters of [A-Za-z0-9_-]", ErrMalformed, maxKIDLen)
	}
	// The decoder skips \r and \n even in strict mode; refusing them keeps one encoding per
	// value, so sealed strings can be compared and never carry line breaks into logs or headers.
	if strings.ContainsAny(enc, "\r\n") {
		return "", nil, fmt.Errorf("%w: body contains a line break", ErrMalformed)
	}
	body, err = base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", nil, fmt.Errorf("%w: body is not unpadded base64url", ErrMalformed)
	}
	if len(body) < nonceLen+tagLen {
		return "", nil, fmt.Errorf("%w: body is %d bytes, shorter than nonce and tag (%d)", ErrMalformed, len(body), nonceLen+tagLen)
	}
	return kid, body, nil
}

// fullAAD binds the version and key id into the authenticated data as well as the caller's aad,
// so a value whose header was edited fails even if two kids were given the same key bytes.
// The header ends in '.', which a kid cannot contain, so the concatenation is unambiguous.
func fullAAD(kid string, aad []byte) []byte {
	out := make([]byte, 0, len(prefix)+len(kid)+1+len(aad))
	out = append(out, prefix...)
	out = append(out, kid...)
	out = append(out, '.')
	return append(out, aad...)
}

func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > maxKIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
