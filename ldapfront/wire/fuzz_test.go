package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzReadMessage feeds arbitrary bytes to the reader: it must never panic,
// every error must be one of the documented kinds, and every decoded
// request must survive encode → decode unchanged.
func FuzzReadMessage(f *testing.F) {
	for _, b := range seedMessages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ReadMessage(bufio.NewReader(bytes.NewReader(in)), 1<<16)
		if err != nil {
			checkTyped(t, err)
			return
		}
		if _, ok := m.Op.(*UnknownOp); ok {
			return
		}
		out, err := m.Bytes()
		if err != nil {
			t.Fatalf("decoded %#v does not re-encode: %v", m, err)
		}
		again, err := ReadMessage(bufio.NewReader(bytes.NewReader(out)), 1<<20)
		if err != nil {
			t.Fatalf("re-encoding of %#v does not decode: %v", m, err)
		}
		if !sameMessage(m, again) {
			t.Fatalf("round trip changed message:\n%#v\n%#v", m, again)
		}
	})
}

// sameMessage compares messages, filters by their encoding since the
// decoded trees carry bookkeeping that re-encoding does not preserve.
func sameMessage(a, b *Message) bool {
	sa, aok := a.Op.(*SearchRequest)
	sb, bok := b.Op.(*SearchRequest)
	if aok && bok {
		if !bytes.Equal(sa.Filter.Bytes(), sb.Filter.Bytes()) || sa.FilterText() != sb.FilterText() {
			return false
		}
		ca, cb := *sa, *sb
		ca.Filter, cb.Filter = nil, nil
		return a.ID == b.ID && reflect.DeepEqual(ca, cb) && reflect.DeepEqual(normControls(a.Controls), normControls(b.Controls))
	}
	return a.ID == b.ID && reflect.DeepEqual(a.Op, b.Op) && reflect.DeepEqual(normControls(a.Controls), normControls(b.Controls))
}

// normControls treats an empty [0] Controls as absent, since the encoder
// omits it.
func normControls(c []Control) []Control {
	if len(c) == 0 {
		return nil
	}
	return c
}

func seedMessages(tb testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for name, m := range requestCases(tb) {
		b := encode(tb, m)
		if name == "unknown_op" {
			// [APPLICATION 30] with the delete's content.
			b[5] = 0x5e
		}
		out[name] = b
	}
	return out
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzReadMessage/seed_* when
// WIRE_WRITE_SEEDS=1; otherwise it checks the committed seeds still decode.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReadMessage")
	seeds := seedMessages(t)
	if os.Getenv("WIRE_WRITE_SEEDS") == "1" {
		for name, b := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, "seed_"+name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range seeds {
		if _, err := os.Stat(filepath.Join(dir, "seed_"+name)); err != nil {
			t.Errorf("seed %s missing; run with WIRE_WRITE_SEEDS=1: %v", name, err)
		}
	}
}

// FuzzFastSearch holds the direct search decoder to the tree decoder: on
// any PDU both fail, or both succeed with the same message.
func FuzzFastSearch(f *testing.F) {
	for _, b := range seedMessages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := Limits{MaxBytes: 1 << 16}
		fast, ferr := decodeMessage(in, lim, true)
		slow, serr := decodeMessage(in, lim, false)
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("fast decoder err %v, tree decoder err %v", ferr, serr)
		}
		if ferr != nil {
			checkTyped(t, ferr)
			return
		}
		if !sameMessage(fast, slow) {
			t.Fatalf("decoders disagree:\n%#v\n%#v", fast, slow)
		}
	})
}
