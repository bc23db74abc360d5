package password

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// fastParams keep the tests quick; argon2's correctness does not depend on
// the cost.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashRoundTrip(t *testing.T) {
	for _, h := range []Hasher{{}, {Params: fastParams}, {Params: Params{Memory: 256, Time: 3, Threads: 4, SaltLen: 8, KeyLen: 64}}} {
		enc, err := h.Hash("correct horse battery staple")
		if err != nil {
			t.Fatalf("Hash(%+v): %v", h.Params, err)
		}
		p := h.params()
		wantPrefix := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", p.Memory, p.Time, p.Threads)
		if !strings.HasPrefix(enc, wantPrefix) {
			t.Errorf("Hash = %q, want prefix %q", enc, wantPrefix)
		}
		ok, rehash, err := h.Verify(enc, "correct horse battery staple")
		if !ok || rehash || err != nil {
			t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
		ok, rehash, err = h.Verify(enc, "correct horse battery stapl")
		if ok || rehash || err != nil {
			t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
		}
		ok, _, err = h.Verify("{ARGON2}"+enc, "correct horse battery staple")
		if !ok || err != nil {
			t.Errorf("Verify({ARGON2}) = %v, %v", ok, err)
		}
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := Hasher{Params: fastParams}
	a, _ := h.Hash("pw")
	b, _ := h.Hash("pw")
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %q", a)
	}
}

func TestHashRejects(t *testing.T) {
	if _, err := (Hasher{Params: fastParams}).Hash(strings.Repeat("x", MaxPasswordBytes+1)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash(long) err = %v, want ErrPasswordTooLong", err)
	}
	if _, err := (Hasher{Params: Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}}).Hash("pw"); err == nil {
		t.Error("Hash with t=0 succeeded")
	}
}

func TestNeedsRehash(t *testing.T) {
	h := Hasher{Params: fastParams}
	mk := func(p Params) string {
		enc, err := Hasher{Params: p}.Hash("pw")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	with := func(f func(*Params)) Params { p := fastParams; f(&p); return p }
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	salt := []byte("0123456789abcdef")
	tests := []struct {
		name   string
		enc    string
		rehash bool
	}{
		{"same params", mk(fastParams), false},
		{"memory", mk(with(func(p *Params) { p.Memory = 128 })), true},
		{"time", mk(with(func(p *Params) { p.Time = 2 })), true},
		{"threads", mk(with(func(p *Params) { p.Threads = 2 })), true},
		{"salt length", mk(with(func(p *Params) { p.SaltLen = 8 })), true},
		{"key length", mk(with(func(p *Params) { p.KeyLen = 16 })), true},
		{"argon2i", encodeArgon2("argon2i", fastParams, salt, argon2.Key([]byte("pw"), salt, 1, 64, 1, 32)), true},
		{"bcrypt", string(bc), true},
		{"ssha", ssha("pw", "salt"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.enc, "pw")
			if !ok || err != nil || rehash != tt.rehash {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.rehash)
			}
			if _, rehash, _ := h.Verify(tt.enc, "wrong"); rehash {
				t.Errorf("rehash = true after a failed verification")
			}
		})
	}
}

func ssha(pw, salt string) string {
	sum := sha1.Sum([]byte(pw + salt))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// importedVector is a hash from another system and the password it was
// made from.
type importedVector struct {
	name, enc, pw string
}

func importedVectors(t *testing.T) []importedVector {
	t.Helper()
	sha1Sum := sha1.Sum([]byte("secret"))
	sha256Salted := sha256.Sum256([]byte("secret" + "\x01\x02\x03\x04\x05\x06\x07\x08"))
	sha512Salted := sha512.Sum512([]byte("secret" + "NaCl"))
	sha384Sum := sha512.Sum384([]byte("secret"))
	bc, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return []importedVector{
		// Vectors from the Argon2 reference implementation's test.c.
		{"argon2id reference", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password"},
		{"argon2i reference", "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA", "password"},
		{"openldap argon2", "{ARGON2}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password"},
		{"sha", "{SHA}" + b64(sha1Sum[:]), "secret"},
		{"sha lowercase prefix", "{sha}" + b64(sha1Sum[:]), "secret"},
		{"ssha", ssha("secret", "salt"), "secret"},
		{"ssha mixed case", "{sShA}" + strings.TrimPrefix(ssha("secret", "8bytesal"), "{SSHA}"), "secret"},
		{"ssha256", "{SSHA256}" + b64(append(sha256Salted[:], "\x01\x02\x03\x04\x05\x06\x07\x08"...)), "secret"},
		{"ssha512", "{SSHA512}" + b64(append(sha512Salted[:], "NaCl"...)), "secret"},
		{"sha384", "{SHA384}" + b64(sha384Sum[:]), "secret"},
		{"bcrypt 2a", string(bc), "secret"},
		{"bcrypt 2b", "$2b$" + string(bc[4:]), "secret"},
		{"bcrypt 2y", "$2y$" + string(bc[4:]), "secret"},
		{"bcrypt prefix", "{BCRYPT}" + string(bc), "secret"},
		{"crypt bcrypt", "{CRYPT}" + string(bc), "secret"},
		// sha-crypt vectors from Drepper's specification (also glibc's tests).
		{"sha512-crypt", "{CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
		{"sha512-crypt rounds", "{crypt}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.", "Hello world!"},
		{"sha512-crypt rounds clamp", "$6$rounds=10$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.", "the minimum number is still observed"},
		{"sha256-crypt", "{CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"},
		{"sha256-crypt rounds", "{CRYPT}$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA", "Hello world!"},
		// Generated with glibc crypt(3) and `openssl passwd -1`, which agree.
		{"sha512-crypt glibc", "$6$rounds=5000$usesomesillystri$nnCrG0XcyKwkRXepV1dRXhqEhP0r2sdjV8bt5gCcljMzCikm9bUX/7p3XFtKdxi5sTwUISBZHwcTXhwXYM/rl1", "password"},
		{"md5-crypt", "{CRYPT}$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1", "Hello world!"},
		{"md5-crypt bare", "$1$abcdefgh$G//4keteveJp0qb8z2DxG/", "password"},
	}
}

func TestVerifyImported(t *testing.T) {
	h := Hasher{Params: fastParams}
	for _, tt := range importedVectors(t) {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.enc, tt.pw)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(tt.enc, tt.pw+"x")
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

// errorVector is a hash Verify refuses and the error it wraps.
type errorVector struct {
	enc  string
	want error
}

func errorVectors() []errorVector {
	long := strings.Repeat("A", 2000)
	bcTail := strings.Repeat("a", 53)
	argon := func(params string) string {
		return "$argon2id$v=19$" + params + "$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	}
	return []errorVector{
		{"", ErrMalformedHash},
		{long, ErrMalformedHash},
		{"{SSHA", ErrMalformedHash},
		{"{SSHA}!!!", ErrMalformedHash},
		{"{SSHA}" + base64.StdEncoding.EncodeToString([]byte("short")), ErrMalformedHash},
		{"{SHA}" + base64.StdEncoding.EncodeToString(make([]byte, 21)), ErrMalformedHash},
		{"{ARGON2}plain", ErrMalformedHash},
		{"{CRYPT}", ErrMalformedHash},
		{"{CRYPT}$", ErrMalformedHash},
		{"{CRYPT}$6", ErrMalformedHash},
		{"$6$", ErrMalformedHash},
		{"$6$salt", ErrMalformedHash},
		{"$6$salt$short", ErrMalformedHash},
		{"$6$a$b$c$d", ErrMalformedHash},
		{"$6$rounds=x$salt$" + strings.Repeat("a", 86), ErrMalformedHash},
		{"$6$rounds=-5$salt$" + strings.Repeat("a", 86), ErrMalformedHash},
		{"$6$rounds=5000$" + strings.Repeat("a", 86), ErrMalformedHash},
		{"$6$seventeencharsalt$" + strings.Repeat("a", 86), ErrMalformedHash},
		{"$1$rounds=5000$salt$" + strings.Repeat("a", 22), ErrMalformedHash},
		{"$1$salt$" + strings.Repeat("*", 22), ErrMalformedHash},
		{"$2b$04$" + bcTail[:52], ErrMalformedHash},
		{"$2b$03$" + bcTail, ErrMalformedHash},
		{"$2b$xx$" + bcTail, ErrMalformedHash},
		{"$2b$04$" + bcTail[:52] + "!", ErrMalformedHash},
		{"{BCRYPT}$6$salt$x", ErrMalformedHash},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ", ErrMalformedHash},
		{argon("m=64,t=1"), ErrMalformedHash},
		{argon("t=1,m=64,p=1"), ErrMalformedHash},
		{argon("m=64,t=1,p=0"), ErrMalformedHash},
		{argon("m=64,t=0,p=1"), ErrMalformedHash},
		{argon("m=7,t=1,p=1"), ErrMalformedHash},
		{argon("m=64,t=1,p=16"), ErrMalformedHash}, // m < 8*p
		{argon("m=+64,t=1,p=1"), ErrMalformedHash},
		{argon("m=99999999999,t=1,p=1"), ErrMalformedHash},
		{argon("m=64,t=1,p=256"), ErrMalformedHash},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", ErrMalformedHash}, // salt 5 bytes
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c2hvcnQ", ErrMalformedHash},                                // key 5 bytes
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", ErrMalformedHash},
		{"$argon2id$v=x$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", ErrMalformedHash},
		{"$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", ErrUnsupportedScheme},
		{"$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", ErrUnsupportedScheme},
		{"$argon2d$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", ErrUnsupportedScheme},
		{"plaintext", ErrUnsupportedScheme},
		{"{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", ErrUnsupportedScheme},
		{"{CLEARTEXT}secret", ErrUnsupportedScheme},
		{"{CRYPT}abJnggxhB/yWI", ErrUnsupportedScheme}, // DES crypt
		{"$y$j9T$salt$hash", ErrUnsupportedScheme},     // yescrypt
		{"$2x$04$" + bcTail, ErrUnsupportedScheme},
		{"$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", ErrUnsupportedScheme},
	}
}

func TestVerifyErrors(t *testing.T) {
	h := Hasher{Params: fastParams}
	for _, tt := range errorVectors() {
		name := tt.enc
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.enc, "password")
			if ok || rehash || !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, %v, %v; want false, false, %v", ok, rehash, err, tt.want)
			}
		})
	}
}

// capVectors are hashes whose cost parameters exceed the caps: each would
// take minutes or gigabytes if computed.
func capVectors() []string {
	bcTail := strings.Repeat("a", 53)
	return []string{
		"$argon2id$v=19$m=1048577,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=17,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=4294967295,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=1,p=65$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=1,p=1$" + strings.Repeat("c29tZXNhbHQ", 10) + "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$" + strings.Repeat("CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", 4),
		"$2b$17$" + bcTail,
		"$2b$31$" + bcTail,
		"{CRYPT}$6$rounds=1000001$salt$" + strings.Repeat("a", 86),
		"$5$rounds=999999999$salt$" + strings.Repeat("a", 43),
		"$6$rounds=99999999999$salt$" + strings.Repeat("a", 86),
	}
}

// TestVerifyCaps checks that hostile cost parameters are refused before any
// work is done.
func TestVerifyCaps(t *testing.T) {
	h := Hasher{Params: fastParams}
	for _, enc := range capVectors() {
		// ErrMalformedHash comes from parsing, before any computation:
		// the cap rejects the hash without paying for it.
		ok, _, err := h.Verify(enc, "password")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%.50s...) = %v, %v; want ErrMalformedHash", enc, ok, err)
		}
	}
	// A hostile password is bounded too: sha-crypt is quadratic in its length.
	_, _, err := h.Verify("$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", strings.Repeat("x", MaxPasswordBytes+1))
	if !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Verify(long password) err = %v, want ErrPasswordTooLong", err)
	}
}

// BenchmarkVerifyVsDummy prints the cost of a real argon2id check beside
// DummyVerify's (used for unknown accounts): they run the same key
// derivation with the same parameters, so the figures should match. It is
// a benchmark, not a test, because timings do not belong in pass/fail.
func BenchmarkVerifyVsDummy(b *testing.B) {
	h := Hasher{}
	enc, err := h.Hash("secret")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			h.Verify(enc, "guess")
		}
	})
	b.Run("DummyVerify", func(b *testing.B) {
		for b.Loop() {
			h.DummyVerify("guess")
		}
	})
}
