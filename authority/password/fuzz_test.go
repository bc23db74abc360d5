package password

import (
	"errors"
	"testing"
)

// fuzzLimits are far below the production caps so that every input the
// fuzzer accepts is cheap to compute; the capping logic is the same code.
func fuzzLimits() limits {
	return limits{argonMemory: 256, argonTime: 2, argonThreads: 4, bcryptCost: 5, shaCryptRounds: 2000}
}

// verifySeeds seed FuzzVerify and FuzzCheckHash, each with "Hello world!" as
// the password.
var verifySeeds = []string{
	"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"{ARGON2}$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	"{SSHA}2ELfGNTIo0RbYF8/PyXoNlERV4FzYWx0",
	"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
	"{CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	"$5$rounds=1000$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
	"$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1",
	"$2b$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"{BCRYPT}$2y$05$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
}

func FuzzVerify(f *testing.F) {
	for _, s := range verifySeeds {
		f.Add(s, "Hello world!")
	}
	h := Hasher{Params: fastParams}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		ok, rehash, err := h.verify(encoded, pw, fuzzLimits())
		if err != nil {
			if ok || rehash {
				t.Errorf("ok=%v rehash=%v alongside error %v", ok, rehash, err)
			}
			if !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedScheme) && !errors.Is(err, ErrPasswordTooLong) {
				t.Errorf("error %v wraps none of the package's sentinel errors", err)
			}
		}
		if rehash && !ok {
			t.Errorf("rehash without ok")
		}
	})
}

func FuzzParseArgon2id(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	lim := defaultLimits()
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseArgon2(s, lim)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedScheme) {
				t.Errorf("error %v wraps neither sentinel", err)
			}
			return
		}
		if err := checkArgon2Params(a.params, lim); err != nil {
			t.Fatalf("parse accepted params beyond the caps: %v", err)
		}
		// Re-encoding must give a string that parses to the same hash.
		b, err := parseArgon2(encodeArgon2(a.variant, a.params, a.salt, a.key), lim)
		if err != nil {
			t.Fatalf("re-encoded hash does not parse: %v", err)
		}
		if a.variant != b.variant || a.params != b.params || string(a.salt) != string(b.salt) || string(a.key) != string(b.key) {
			t.Fatalf("round trip changed the hash: %+v != %+v", a, b)
		}
	})
}
