package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

// FuzzOpen feeds arbitrary sealed strings and aad to Open: it must never panic, must classify
// every failure as one of the three sentinel errors, and must only succeed on real values.
func FuzzOpen(f *testing.F) {
	k := testKeyring(f, "a", "b")
	// The seed is sealed with a fixed nonce: fuzz workers are separate processes, and each
	// must recognise the same value as the one genuine input.
	fixedNonce := make([]byte, nonceLen)
	body := k.aeads["a"].Seal(fixedNonce, fixedNonce, []byte("hello"), fullAAD("a", []byte("aad")))
	good := "hwseal1.a." + base64.RawURLEncoding.EncodeToString(body)
	f.Add(good, []byte("aad"))
	f.Add(good, []byte("other"))
	f.Add("hwseal1.a.", []byte(nil))
	f.Add("hwseal1.zz.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte(nil))
	f.Add("", []byte(nil))
	f.Fuzz(func(t *testing.T, sealed string, aad []byte) {
		pt, err := k.Open(sealed, aad)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("unclassified error: %v", err)
			}
			if errors.Is(err, ErrMalformed) != (func() bool { _, e := KeyID(sealed); return e != nil })() {
				t.Fatalf("Open and KeyID disagree on whether %q is well formed", sealed)
			}
			return
		}
		// Success on fuzzed input means the fuzzer found a forgery or reproduced the seed.
		if sealed != good || !bytes.Equal(aad, []byte("aad")) {
			t.Fatalf("Open accepted an unsealed value %q with aad %q", sealed, aad)
		}
		_ = k.NeedsReseal(sealed)
	})
}

// FuzzParse feeds arbitrary key files to Parse: it must never panic, and a keyring it returns
// must be able to seal and open.
func FuzzParse(f *testing.F) {
	f.Add([]byte("a " + key32 + "\n"))
	f.Add([]byte("# c\n\na " + key32 + "\nb " + key32 + "\n"))
	f.Add([]byte("a " + key32 + "\na " + key32 + "\n"))
	f.Add([]byte("a " + key16))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data)
		if err != nil {
			return
		}
		if len(k.KeyIDs()) == 0 || k.ActiveKeyID() != k.KeyIDs()[0] {
			t.Fatalf("keyring without an active key: %v", k.KeyIDs())
		}
		s, err := k.Seal([]byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := k.Open(s, nil); err != nil || string(pt) != "x" {
			t.Fatalf("round trip failed: %q %v", pt, err)
		}
	})
}
