package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// headerOnly yields hdr and then fails the test if anything reads further,
// proving a refused PDU's body is never read.
type headerOnly struct {
	t    *testing.T
	hdr  []byte
	done bool
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if h.done {
		h.t.Error("body was read after the header was refused")
		return 0, io.ErrNoProgress
	}
	h.done = true
	return copy(p, h.hdr), nil
}

func TestTooLargeRefusedBeforeBody(t *testing.T) {
	for _, hdr := range [][]byte{
		{0x30, 0x83, 0x01, 0x00, 0x01},                               // 65537
		{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},                         // 2 GiB
		{0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // 2^64-1
	} {
		_, err := ReadMessage(bufio.NewReader(&headerOnly{t: t, hdr: hdr}), 64<<10)
		var le *LimitError
		if !errors.Is(err, ErrTooLarge) || !errors.As(err, &le) || le.Max != 64<<10 || le.Got <= le.Max {
			t.Errorf("header % x: got %v", hdr, err)
		}
	}
}

func encode(t testing.TB, m *Message) []byte {
	t.Helper()
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nest wraps inner in n SEQUENCEs.
func nest(inner []byte, n int) []byte {
	for i := 0; i < n; i++ {
		inner = append(tlvHeader(0x30, len(inner)), inner...)
	}
	return inner
}

func tlvHeader(tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return []byte{tag, byte(n)}
	case n < 0x10000:
		return []byte{tag, 0x82, byte(n >> 8), byte(n)}
	default:
		return []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

// message builds an LDAPMessage with ID 7 around raw op bytes.
func message(op []byte) []byte {
	body := append([]byte{0x02, 0x01, 0x07}, op...)
	return append(tlvHeader(0x30, len(body)), body...)
}

func TestReadErrors(t *testing.T) {
	flood := bytes.Repeat([]byte{0x05, 0x00}, 100000) // 100k NULLs in 200 kB
	cases := []struct {
		name   string
		in     []byte
		max    int
		is     error // errors.Is target
		withID bool  // a *ProtocolError carrying message ID 7
	}{
		{"clean EOF", nil, 0, io.EOF, false},
		{"indefinite outer", []byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00}, 0, ErrIndefiniteLength, false},
		{"indefinite inner", message([]byte{0x63, 0x80, 0x00, 0x00}), 0, ErrIndefiniteLength, true},
		{"element flood", message(append(tlvHeader(0x63, len(flood)), flood...)), 1 << 20, ErrTooManyElements, true},
		{"too deep", message(nest([]byte{0x05, 0x00}, 40)), 0, ErrTooDeep, true},
		{"deep large value costs too much", message(nest(append(tlvHeader(0x04, 60000), make([]byte, 60000)...), 30)), 64 << 10, ErrTooCostly, true},
		{"truncated header", []byte{0x30, 0x82, 0x01}, 0, io.ErrUnexpectedEOF, false},
		{"truncated body", []byte{0x30, 0x10, 0x02, 0x01, 0x01}, 0, io.ErrUnexpectedEOF, false},
		{"not a sequence", []byte{0x31, 0x03, 0x02, 0x01, 0x01}, 0, ErrProtocol, false},
		{"negative message ID", []byte{0x30, 0x05, 0x02, 0x01, 0xff, 0x42, 0x00}, 0, ErrProtocol, false},
		{"child overruns parent", []byte{0x30, 0x05, 0x02, 0x01, 0x07, 0x63, 0x05}, 0, ErrProtocol, true},
		{"no op", []byte{0x30, 0x03, 0x02, 0x01, 0x07}, 0, ErrProtocol, true},
		{"bad bind", message([]byte{0x60, 0x03, 0x02, 0x01, 0x03}), 0, ErrProtocol, true},
		{"bad scope", message(searchWith(5)), 0, ErrProtocol, true},
		{"universal op", message([]byte{0x04, 0x00}), 0, ErrProtocol, true},
		{"bad controls tag", message([]byte{0x42, 0x00, 0xa1, 0x00}), 0, ErrProtocol, true},
		{"oversized short", message(make([]byte, 200)), 100, ErrTooLarge, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadMessage(bufio.NewReader(bytes.NewReader(tc.in)), tc.max)
			if !errors.Is(err, tc.is) {
				t.Fatalf("got %v, %v; want %v", m, err, tc.is)
			}
			if tc.is == ErrProtocol && errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("malformed PDU reported as truncated stream: %v", err)
			}
			var pe *ProtocolError
			gotID := errors.As(err, &pe) && pe.HasMessageID && pe.MessageID == 7
			if gotID != tc.withID {
				t.Errorf("message ID carried = %v, want %v (%v)", gotID, tc.withID, err)
			}
		})
	}
}

// searchWith builds a SearchRequest with the given scope and filter (uid=*).
func searchWith(scope byte) []byte {
	body := []byte{0x04, 0x00, 0x0a, 0x01, scope, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00,
		0x87, 0x03, 'u', 'i', 'd', 0x30, 0x00}
	return append(tlvHeader(0x63, len(body)), body...)
}

func TestMalformedCarriesOpTag(t *testing.T) {
	_, err := ReadMessage(bufio.NewReader(bytes.NewReader(message(searchWith(9)))), 0)
	var pe *ProtocolError
	if !errors.As(err, &pe) || !pe.HasOpTag || pe.OpTag != TagSearchRequest {
		t.Fatalf("got %v", err)
	}
	if rt, ok := ResponseTag(pe.OpTag); !ok || rt != TagSearchResultDone {
		t.Errorf("ResponseTag = %v, %v", rt, ok)
	}
}

func TestUnknownOpIsNotAnError(t *testing.T) {
	for _, tag := range []byte{0x41, 0x71, 0x5e, 0x62 /* constructed unbind is malformed */} {
		m, err := ReadMessage(bufio.NewReader(bytes.NewReader(message([]byte{tag, 0x00}))), 0)
		if tag == 0x62 {
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("constructed unbind: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("tag %#x: %v", tag, err)
		}
		if _, ok := m.Op.(*UnknownOp); !ok || m.ID != 7 {
			t.Errorf("tag %#x: got %+v", tag, m)
		}
	}
}

// TestStream reads several messages back to back, as a connection does.
func TestStream(t *testing.T) {
	var buf bytes.Buffer
	msgs := []*Message{
		{ID: 1, Op: &BindRequest{Version: 3, Name: "cn=a", Simple: true, Password: []byte("p")}},
		{ID: 2, Op: &SearchRequest{BaseDN: "dc=x", Scope: ScopeSingleLevel}},
		{ID: 3, Op: &AbandonRequest{MessageID: 2}},
		{ID: 4, Op: &UnbindRequest{}},
	}
	for _, m := range msgs {
		if err := WriteMessage(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(&buf)
	for _, want := range msgs {
		m, err := ReadMessage(br, 0)
		if err != nil || m.ID != want.ID || reflect.TypeOf(m.Op) != reflect.TypeOf(want.Op) {
			t.Fatalf("got %+v, %v; want %+v", m, err, want)
		}
	}
	if _, err := ReadMessage(br, 0); err != io.EOF {
		t.Errorf("after last message: %v, want io.EOF", err)
	}
}

func TestGarbageNeverPanics(t *testing.T) {
	seeds := [][]byte{
		[]byte(strings.Repeat("\x30", 100)),
		[]byte("\x30\x84\x00\x00\x00\x05\x02\x01\x01\x42\x00"),
		[]byte("\x30\x06\x02\x01\x01\x1f\x81\x00"),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		{0x30, 0x07, 0x02, 0x01, 0x01, 0x63, 0x02, 0x00, 0x00},
	}
	for i := 0; i < 256; i++ {
		b := []byte{0x30, 0x08, 0x02, 0x01, 0x01, byte(i), 0x03, 0x04, 0x01, 0x00}
		seeds = append(seeds, b)
	}
	for _, in := range seeds {
		if _, err := ReadMessage(bufio.NewReader(bytes.NewReader(in)), 0); err != nil {
			checkTyped(t, err)
		}
	}
}

func checkTyped(t testing.TB, err error) {
	t.Helper()
	var pe *ProtocolError
	var le *LimitError
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &pe) && !errors.As(err, &le) {
		t.Errorf("untyped error %T: %v", err, err)
	}
}
