package wire

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAppendMatchesPacket holds the direct encoder to the bytes of the
// ber.Packet path, for every shape it handles, across length boundaries
// (127/128, 255/256, 65535/65536) and message IDs of every width.
func TestAppendMatchesPacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 126, 127, 128, 129, 255, 256, 257, 1000, 65535, 65536, 70000}
	str := func() string { return strings.Repeat("x", sizes[rng.IntN(len(sizes))]) }
	ids := []int64{0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 1<<23 - 1, 1 << 23, maxMessageID}
	var msgs []*Message
	for i := 0; i < 400; i++ {
		id := ids[rng.IntN(len(ids))]
		res := Result{Code: ResultCode(rng.IntN(130)), MatchedDN: str(), DiagnosticMessage: str()}
		if rng.IntN(4) == 0 {
			res.MatchedDN, res.DiagnosticMessage = "", ""
		}
		var e SearchResultEntry
		e.DN = str()
		for j := rng.IntN(5); j > 0; j-- {
			a := Attribute{Type: str()}
			for k := rng.IntN(4); k > 0; k-- {
				a.Values = append(a.Values, str())
			}
			e.Attributes = append(e.Attributes, a)
		}
		msgs = append(msgs,
			&Message{ID: id, Op: &e},
			&Message{ID: id, Op: &SearchResultDone{Result: res}},
			&Message{ID: id, Op: &BindResponse{Result: res}},
			&Message{ID: id, Op: &CompareResponse{Result: res}},
			&Message{ID: id, Op: &ModifyResponse{Result: res}},
			&Message{ID: id, Op: &AddResponse{Result: res}},
			&Message{ID: id, Op: &DeleteResponse{Result: res}},
			&Message{ID: id, Op: &ModifyDNResponse{Result: res}},
		)
	}
	for _, m := range msgs {
		fast, ok := appendFast([]byte("prefix"), m)
		if !ok {
			t.Fatalf("appendFast refused %T", m.Op)
		}
		p, err := m.Packet()
		if err != nil {
			t.Fatal(err)
		}
		if want := p.Bytes(); !bytes.Equal(fast[len("prefix"):], want) {
			t.Fatalf("%T id %d: direct encoding differs from ber's\n got % x\nwant % x", m.Op, m.ID, head(fast[6:]), head(want))
		}
		// And it reads back as one well-formed message (a response is an
		// UnknownOp to the request decoder).
		if _, err := DecodeMessage(fast[len("prefix"):], Limits{MaxBytes: 1 << 24, MaxElements: 1 << 20, MaxDecodeMemory: 1 << 30}); err != nil {
			t.Fatalf("re-reading %T: %v", m.Op, err)
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}

func TestAppendRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, m := range []*Message{
		{ID: 1, Op: &SearchResultDone{}, Controls: []Control{{OID: OIDPagedResults}}},
		{ID: 1, Op: &SearchResultDone{Result: Result{Referral: []string{"ldap://x"}}}},
		{ID: 1, Op: &BindResponse{ServerSASLCreds: []byte("x")}},
		{ID: 1, Op: &ExtendedResponse{Name: OIDWhoAmI}},
		{ID: -1, Op: &SearchResultDone{}},
	} {
		if _, ok := appendFast(nil, m); ok {
			t.Errorf("appendFast took %T with controls %v", m.Op, m.Controls)
		}
	}
}
