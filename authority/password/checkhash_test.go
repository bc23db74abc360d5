package password

import (
	"errors"
	"strings"
	"testing"
)

// checkSameVerdict checks the contract between CheckHash and Verify on one
// input: CheckHash accepts exactly what Verify accepts, refuses with the same
// error (bar the "password: <operation>: " prefix), and never runs a key
// derivation; Verify runs one exactly when it accepts the hash. It reads
// keyDerivations, so its callers must not run in parallel with other Verify
// calls.
func checkSameVerdict(t *testing.T, h Hasher, encoded, pw string, lim limits) {
	t.Helper()
	before := keyDerivations.Load()
	cerr := checkHash(encoded, lim)
	if n := keyDerivations.Load() - before; n != 0 {
		t.Fatalf("CheckHash(%.60q) ran %d key derivations", encoded, n)
	}
	ok, rehash, verr := h.verify(encoded, pw, lim)
	derived := keyDerivations.Load() - before
	if len(pw) > MaxPasswordBytes {
		// Refused for the password, which CheckHash does not take.
		if !errors.Is(verr, ErrPasswordTooLong) || derived != 0 {
			t.Fatalf("Verify(long password) = %v after %d key derivations; want ErrPasswordTooLong after none", verr, derived)
		}
		return
	}
	switch {
	case (cerr == nil) != (verr == nil):
		t.Fatalf("%.60q: CheckHash = %v but Verify = %v, %v, %v", encoded, cerr, ok, rehash, verr)
	case verr == nil && derived != 1:
		t.Fatalf("Verify(%.60q) accepted the hash after %d key derivations, want 1", encoded, derived)
	case verr != nil && derived != 0:
		t.Fatalf("Verify(%.60q) refused the hash with %v after %d key derivations, want 0", encoded, verr, derived)
	case verr != nil:
		for _, sentinel := range []error{ErrMalformedHash, ErrUnsupportedScheme, ErrPasswordTooLong} {
			if errors.Is(cerr, sentinel) != errors.Is(verr, sentinel) {
				t.Errorf("%.60q: CheckHash = %v but Verify = %v: they differ on %v", encoded, cerr, verr, sentinel)
			}
		}
		c, _ := strings.CutPrefix(cerr.Error(), "password: check hash: ")
		v, _ := strings.CutPrefix(verr.Error(), "password: verify: ")
		if c != v {
			t.Errorf("CheckHash error %q, Verify error %q: want the same after the prefix", cerr, verr)
		}
	}
}

// TestCheckHashMatchesVerify runs the contract over every vector of the
// Verify tests and the fuzz seeds, at the production limits.
func TestCheckHashMatchesVerify(t *testing.T) {
	h := Hasher{Params: fastParams}
	lim := defaultLimits()
	var inputs []string
	for _, v := range importedVectors(t) {
		inputs = append(inputs, v.enc)
	}
	for _, v := range errorVectors() {
		inputs = append(inputs, v.enc)
	}
	inputs = append(inputs, capVectors()...)
	inputs = append(inputs, verifySeeds...)
	fresh, err := h.Hash("Hello world!")
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, fresh)
	for _, enc := range inputs {
		checkSameVerdict(t, h, enc, "Hello world!", lim)
		if err, want := h.CheckHash(enc), checkHash(enc, lim); (err == nil) != (want == nil) {
			t.Errorf("CheckHash(%.60q) = %v, want %v", enc, err, want)
		}
	}
	// The vectors Verify accepts and refuses are CheckHash's too.
	for _, v := range importedVectors(t) {
		if err := h.CheckHash(v.enc); err != nil {
			t.Errorf("CheckHash(%s) = %v", v.name, err)
		}
	}
	for _, v := range errorVectors() {
		if err := h.CheckHash(v.enc); !errors.Is(err, v.want) {
			t.Errorf("CheckHash(%.60q) = %v, want %v", v.enc, err, v.want)
		}
	}
	for _, enc := range capVectors() {
		if err := h.CheckHash(enc); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("CheckHash(%.60q) = %v, want ErrMalformedHash", enc, err)
		}
	}
}

// TestCheckHashComputesNothing gives CheckHash hashes at the top of the cost
// caps, each seconds or a gigabyte of work to compute, and checks from the
// key derivation counter, not the clock, that it accepted them without
// computing them. Tighter limits refuse them the same way in both functions.
func TestCheckHashComputesNothing(t *testing.T) {
	tests := []string{
		"$2b$16$" + strings.Repeat("a", 53),
		"{BCRYPT}$2y$16$" + strings.Repeat("a", 53),
		"$6$rounds=999999$saltstring$" + strings.Repeat("a", 86),
		"{CRYPT}$5$rounds=1000000$saltstring$" + strings.Repeat("a", 43),
		"$argon2id$v=19$m=1048576,t=16,p=64$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"{ARGON2}$argon2i$v=19$m=1048576,t=16,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	}
	h := Hasher{Params: fastParams}
	for _, enc := range tests {
		before := keyDerivations.Load()
		if err := h.CheckHash(enc); err != nil {
			t.Errorf("CheckHash(%.60q) = %v, want nil", enc, err)
		}
		if n := keyDerivations.Load() - before; n != 0 {
			t.Errorf("CheckHash(%.60q) ran %d key derivations", enc, n)
		}
		if err := checkHash(enc, fuzzLimits()); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("checkHash(%.60q, fuzzLimits) = %v, want ErrMalformedHash", enc, err)
		}
		checkSameVerdict(t, h, enc, "Hello world!", fuzzLimits())
	}
}

// FuzzCheckHash checks the CheckHash/Verify contract on arbitrary input. Its
// corpus starts as a copy of FuzzVerify's.
func FuzzCheckHash(f *testing.F) {
	for _, s := range verifySeeds {
		f.Add(s, "Hello world!")
	}
	h := Hasher{Params: fastParams}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		checkSameVerdict(t, h, encoded, pw, fuzzLimits())
	})
}
