package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
)

// testKeyring builds a keyring from fixed keys so failures are reproducible.
func testKeyring(t testing.TB, kids ...string) *Keyring {
	t.Helper()
	var b strings.Builder
	for i, kid := range kids {
		key := bytes.Repeat([]byte{byte(i + 1)}, keySize)
		b.WriteString(kid + " " + base64.StdEncoding.EncodeToString(key) + "\n")
	}
	k, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	k := testKeyring(t, "a", "b")
	for _, tc := range []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty", nil, nil},
		{"password", []byte("correct horse battery staple"), []byte("/headwater/outbox/42")},
		{"binary", []byte{0, 1, 2, 255, '.', '\n'}, []byte{0}},
		{"large", bytes.Repeat([]byte("x"), 1<<16), []byte("k")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := k.Seal(tc.plaintext, tc.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if !strings.HasPrefix(sealed, "hwseal1.a.") {
				t.Errorf("sealed value %q lacks prefix hwseal1.a.", sealed[:20])
			}
			if len(tc.plaintext) > 4 && strings.Contains(sealed, string(tc.plaintext)) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := k.Open(sealed, tc.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Errorf("Open = %q, want %q", got, tc.plaintext)
			}
			if kid, err := KeyID(sealed); err != nil || kid != "a" {
				t.Errorf("KeyID = %q, %v; want a", kid, err)
			}
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	k := testKeyring(t, "a")
	s1, _ := k.Seal([]byte("same"), nil)
	s2, _ := k.Seal([]byte("same"), nil)
	if s1 == s2 {
		t.Fatal("two seals of the same plaintext are identical; nonce is not random")
	}
}

func TestOpenErrors(t *testing.T) {
	k := testKeyring(t, "a", "b")
	aad := []byte("/headwater/users/1")
	sealed, err := k.Seal([]byte("secret-value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(sealed, "hwseal1.a.")
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return "hwseal1.a." + base64.RawURLEncoding.EncodeToString(b)
	}
	other := testKeyring(t, "zz")
	otherSealed, _ := other.Seal([]byte("x"), aad)

	for _, tc := range []struct {
		name   string
		sealed string
		aad    []byte
		want   error
	}{
		{"wrong aad", sealed, []byte("/headwater/users/2"), ErrAuth},
		{"nil aad", sealed, nil, ErrAuth},
		{"tampered nonce", flip(0), aad, ErrAuth},
		{"tampered ciphertext", flip(nonceLen), aad, ErrAuth},
		{"tampered tag", flip(len(raw) - 1), aad, ErrAuth},
		{"kid swapped to other known key", "hwseal1.b." + body, aad, ErrAuth},
		{"unknown kid", otherSealed, aad, ErrUnknownKey},
		{"kid edited to unknown", "hwseal1.c." + body, aad, ErrUnknownKey},
		{"empty", "", aad, ErrMalformed},
		{"wrong version", "hwseal2.a." + body, aad, ErrMalformed},
		{"no body separator", "hwseal1.a", aad, ErrMalformed},
		{"empty kid", "hwseal1.." + body, aad, ErrMalformed},
		{"bad kid chars", "hwseal1.a/b." + body, aad, ErrMalformed},
		{"kid too long", "hwseal1." + strings.Repeat("k", 33) + "." + body, aad, ErrMalformed},
		{"extra dot", sealed + ".x", aad, ErrMalformed},
		{"padded base64", sealed + "==", aad, ErrMalformed},
		{"std base64 chars", "hwseal1.a.+/" + body[2:], aad, ErrMalformed},
		{"truncated", "hwseal1.a." + body[:20], aad, ErrMalformed},
		{"line break in body", "hwseal1.a." + body[:10] + "\n" + body[10:], aad, ErrMalformed},
		{"carriage return in body", "hwseal1.a." + body[:10] + "\r" + body[10:], aad, ErrMalformed},
		{"empty body", "hwseal1.a.", aad, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.Open(tc.sealed, tc.aad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q with an error", got)
			}
			if strings.Contains(err.Error(), "secret-value") {
				t.Errorf("error leaks plaintext: %v", err)
			}
		})
	}
}

func TestUnknownKeyNamesKID(t *testing.T) {
	sealed, _ := testKeyring(t, "old-key").Seal([]byte("x"), nil)
	_, err := testKeyring(t, "new-key").Open(sealed, nil)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"old-key"`) {
		t.Fatalf("error = %v, want ErrUnknownKey naming old-key", err)
	}
}

func TestNeedsReseal(t *testing.T) {
	oldRing := testKeyring(t, "old")
	both := testKeyring(t, "new", "old")
	sealedOld, _ := oldRing.Seal([]byte("x"), nil)
	sealedNew, _ := both.Seal([]byte("x"), nil)
	for _, tc := range []struct {
		name   string
		k      *Keyring
		sealed string
		want   bool
	}{
		{"old value, old ring", oldRing, sealedOld, false},
		{"old value, rotated ring", both, sealedOld, true},
		{"new value, rotated ring", both, sealedNew, false},
		{"malformed", both, "garbage", false},
	} {
		if got := tc.k.NeedsReseal(tc.sealed); got != tc.want {
			t.Errorf("%s: NeedsReseal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKeyIDMalformed(t *testing.T) {
	if _, err := KeyID("hwseal1.bad"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("KeyID error = %v, want ErrMalformed", err)
	}
}

func TestZeroKeyring(t *testing.T) {
	var k *Keyring
	if _, err := k.Seal([]byte("x"), nil); err == nil {
		t.Error("Seal on nil keyring succeeded")
	}
	sealed, _ := testKeyring(t, "a").Seal([]byte("x"), nil)
	if _, err := k.Open(sealed, nil); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open on nil keyring = %v, want ErrUnknownKey", err)
	}
	if k.ActiveKeyID() != "" || k.KeyIDs() != nil {
		t.Error("nil keyring reports keys")
	}
	if _, err := (&Keyring{}).Seal(nil, nil); err == nil {
		t.Error("Seal on empty keyring succeeded")
	}
}

func TestKeyIDsIsCopy(t *testing.T) {
	k := testKeyring(t, "a", "b")
	ids := k.KeyIDs()
	ids[0] = "mutated"
	if k.ActiveKeyID() != "a" {
		t.Fatal("KeyIDs exposes internal state")
	}
}

// TestConcurrentUse is meant for -race: one Keyring is shared by every request handler.
func TestConcurrentUse(t *testing.T) {
	k := testKeyring(t, "a", "b")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aad := []byte{byte(g)}
			for i := range 200 {
				msg := []byte(strings.Repeat("p", i))
				s, err := k.Seal(msg, aad)
				if err != nil {
					errs <- err
					return
				}
				got, err := k.Open(s, aad)
				if err != nil || !bytes.Equal(got, msg) {
					errs <- errors.Join(errors.New("round trip mismatch"), err)
					return
				}
				_ = k.NeedsReseal(s)
				_ = k.KeyIDs()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkSealOpen(b *testing.B) {
	k := testKeyring(b, "a")
	msg := []byte("a typical password of moderate length")
	aad := []byte("/headwater/outbox/0123456789")
	for b.Loop() {
		s, _ := k.Seal(msg, aad)
		if _, err := k.Open(s, aad); err != nil {
			b.Fatal(err)
		}
	}
}
