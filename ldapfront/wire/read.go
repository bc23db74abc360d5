package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// Default caps. DefaultMaxBytes applies when ReadMessage is given a cap of
// zero or less; a server should pass a much smaller cap before bind (64 KiB
// is ample for a simple bind, StartTLS or a RootDSE search).
const (
	DefaultMaxBytes    = 1 << 20
	DefaultMaxElements = 16384
	DefaultMaxDepth    = 32
	// DefaultMemoryFactor sizes MaxDecodeMemory from MaxBytes. Real
	// requests nest values 6 to 8 deep (modify, substring filters), and the
	// BER decoder keeps a copy of every byte at every level, so 16 leaves
	// room for them while refusing deeper nesting of large values.
	DefaultMemoryFactor = 16
)

// elementOverhead approximates what ber.DecodePacketErr allocates per
// element besides content (Packet, bytes.Buffer, child slice), measured on
// Go 1.26 amd64; it turns the element count into bytes for MaxDecodeMemory.
const elementOverhead = 256

// maxMessageID is maxInt from RFC 4511 section 4.1.1.
const maxMessageID = 1<<31 - 1

// Limits caps what a single PDU may cost. Zero fields take the defaults.
type Limits struct {
	// MaxBytes caps the declared length of one LDAPMessage, checked before
	// its body is read or allocated.
	MaxBytes int
	// MaxElements caps the number of BER elements in one message, because
	// a PDU of tiny elements costs far more memory decoded than on the wire.
	MaxElements int
	// MaxDepth caps nesting; filters are the only deep structure in LDAP.
	MaxDepth int
	// MaxDecodeMemory caps the estimated memory of the decoded tree
	// (content bytes times their depth plus a per-element overhead).
	MaxDecodeMemory int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxDecodeMemory <= 0 {
		l.MaxDecodeMemory = int64(l.MaxBytes) * DefaultMemoryFactor
	}
	return l
}

// Sentinels for the caps; a *LimitError matches exactly one of them with
// errors.Is.
var (
	ErrTooLarge        = errors.New("ldap message larger than allowed")
	ErrTooManyElements = errors.New("ldap message has too many BER elements")
	ErrTooDeep         = errors.New("ldap message nested too deeply")
	ErrTooCostly       = errors.New("ldap message too costly to decode")
)

// ErrIndefiniteLength reports a BER indefinite length, which RFC 4511
// section 5.1 forbids; it arrives wrapped in a *ProtocolError.
var ErrIndefiniteLength = errors.New("indefinite BER length is not allowed in LDAP")

// ErrProtocol is matched by every *ProtocolError, for callers that only
// need to know the peer broke the protocol.
var ErrProtocol = errors.New("ldap protocol error")

// LimitError says which cap was exceeded and by how much.
type LimitError struct {
	Limit error // one of ErrTooLarge, ErrTooManyElements, ErrTooDeep, ErrTooCostly
	Got   int64 // declared or counted value; for ErrTooLarge at least this much
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %d > %d", e.Limit, e.Got, e.Max)
}

func (e *LimitError) Unwrap() error { return e.Limit }

// ProtocolError is a malformed PDU. When HasMessageID is true the PDU was
// fully consumed, MessageID is the one the client sent, and HasOpTag/OpTag
// say which operation it was, so the server can answer protocolError with
// the matching response.
type ProtocolError struct {
	MessageID    int64
	HasMessageID bool
	OpTag        OpTag
	HasOpTag     bool
	Err          error
}

func (e *ProtocolError) Error() string {
	if e.HasMessageID {
		return fmt.Sprintf("ldap protocol error in message %d: %v", e.MessageID, e.Err)
	}
	return fmt.Sprintf("ldap protocol error: %v", e.Err)
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// Is makes every ProtocolError match ErrProtocol.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

// ReadMessage reads one LDAPMessage of at most maxBytes (DefaultMaxBytes if
// maxBytes <= 0) with the default structural caps. See the package
// documentation for the error contract.
func ReadMessage(r *bufio.Reader, maxBytes int) (*Message, error) {
	return ReadMessageLimits(r, Limits{MaxBytes: maxBytes})
}

// ReadMessageLimits is ReadMessage with every cap chosen by the caller.
func ReadMessageLimits(r *bufio.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	hdr, n, err := readHeader(r, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	// The length was checked against the cap, so this allocation is bounded.
	pdu := make([]byte, len(hdr)+n)
	copy(pdu, hdr)
	if _, err := io.ReadFull(r, pdu[len(hdr):]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading ldap message body of %d bytes: %w", n, err)
	}
	return DecodeMessage(pdu, lim)
}

// readHeader reads the LDAPMessage SEQUENCE tag and length byte by byte so a
// hostile length is refused before anything is allocated for it.
func readHeader(r *bufio.Reader, maxBytes int) (hdr []byte, n int, err error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, 0, err // io.EOF here is a clean close between messages
	}
	if tag != 0x30 {
		return nil, 0, &ProtocolError{Err: fmt.Errorf("message starts with tag 0x%02x, want SEQUENCE 0x30", tag)}
	}
	hdr = append(hdr, tag)
	b, err := r.ReadByte()
	if err != nil {
		return nil, 0, fmt.Errorf("reading ldap message length: %w", unexpected(err))
	}
	hdr = append(hdr, b)
	switch {
	case b < 0x80:
		n = int(b)
	case b == 0x80:
		return nil, 0, &ProtocolError{Err: ErrIndefiniteLength}
	default:
		k := int(b & 0x7f)
		if k > 8 {
			return nil, 0, &ProtocolError{Err: fmt.Errorf("length of %d octets is not valid BER", k)}
		}
		var v uint64
		for i := 0; i < k; i++ {
			c, err := r.ReadByte()
			if err != nil {
				return nil, 0, fmt.Errorf("reading ldap message length: %w", unexpected(err))
			}
			hdr = append(hdr, c)
			v = v<<8 | uint64(c)
			// Monotonic once non-zero: stop as soon as the cap is passed
			// so a 9-exabyte claim reports sanely.
			if v > uint64(maxBytes) {
				return nil, 0, &LimitError{Limit: ErrTooLarge, Got: int64(min(v, 1<<62)), Max: int64(maxBytes)}
			}
		}
		n = int(v)
	}
	if n > maxBytes {
		return nil, 0, &LimitError{Limit: ErrTooLarge, Got: int64(n), Max: int64(maxBytes)}
	}
	return hdr, n, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// DecodeMessage decodes one complete LDAPMessage PDU (header included) under
// lim's structural caps; MaxBytes is checked against len(pdu). Trailing
// bytes after the message are an error.
func DecodeMessage(pdu []byte, lim Limits) (msg *Message, err error) {
	return decodeMessage(pdu, lim, true)
}

// decodeMessage is DecodeMessage; fastSearch false sends search requests
// through ber's tree decoder like every other request, for tests that
// compare both paths.
func decodeMessage(pdu []byte, lim Limits, fastSearch bool) (msg *Message, err error) {
	lim = lim.withDefaults()
	if len(pdu) > lim.MaxBytes {
		return nil, &LimitError{Limit: ErrTooLarge, Got: int64(len(pdu)), Max: int64(lim.MaxBytes)}
	}
	pe := &ProtocolError{}
	fail := func(e error) (*Message, error) {
		pe.Err = e
		return nil, pe
	}
	// Learn the message ID and operation from the raw bytes first so that
	// any later failure can still be answered to the right request.
	top, rest, err := parseTLV(pdu)
	if err != nil {
		return fail(err)
	}
	if len(rest) != 0 {
		return fail(fmt.Errorf("%d bytes after the message", len(rest)))
	}
	if top.class != ber.ClassUniversal || !top.constructed || top.tag != ber.TagSequence {
		return fail(errors.New("message is not a SEQUENCE"))
	}
	if id, next, err := parseTLV(top.content); err == nil && id.class == ber.ClassUniversal && !id.constructed && id.tag == ber.TagInteger {
		if v, err := parseInt(id.content); err == nil && v >= 0 && v <= maxMessageID {
			pe.MessageID, pe.HasMessageID = v, true
		}
		if op, _, err := parseTLV(next); err == nil && op.class == ber.ClassApplication {
			pe.OpTag, pe.HasOpTag = OpTag(op.tag), true
		}
	}
	if !pe.HasMessageID {
		return fail(errors.New("messageID missing or out of range"))
	}
	var st scanState
	if err := st.scan(pdu, 0, lim); err != nil {
		return fail(err)
	}

	// The scan above makes ber's decoder safe in practice; the recover is
	// the last line of defence so a decoder bug costs one PDU, not the
	// process.
	defer func() {
		if r := recover(); r != nil {
			msg, err = fail(fmt.Errorf("decoder panic: %v", r))
		}
	}()
	if pe.OpTag == TagSearchRequest && fastSearch {
		m, err := decodeSearchMessage(top.content)
		if err != nil {
			return fail(err)
		}
		return m, nil
	}
	pkt, err := ber.DecodePacketErr(pdu)
	if err != nil {
		return fail(err)
	}
	m, err := decodeEnvelope(pkt, lim)
	if err != nil {
		return fail(err)
	}
	return m, nil
}

// errShortElement is an element overrunning its container inside a PDU
// that was read whole; unlike io.ErrUnexpectedEOF it is a protocol error,
// not a closed connection.
var errShortElement = errors.New("BER element overruns its container")

type tlv struct {
	class       ber.Class
	constructed bool
	tag         ber.Tag
	content     []byte
	raw         []byte // the whole element, header included
	size        int    // header plus content
}

// parseTLV splits the first BER element off b. It accepts only definite
// lengths, as LDAP requires, and lengths that fit in b.
func parseTLV(b []byte) (t tlv, rest []byte, err error) {
	if len(b) < 2 {
		return t, nil, errShortElement
	}
	id := b[0]
	t.class = ber.Class(id) & ber.ClassBitmask
	t.constructed = ber.Type(id)&ber.TypeBitmask == ber.TypeConstructed
	t.tag = ber.Tag(id) & ber.TagBitmask
	i := 1
	if t.tag == ber.HighTag {
		t.tag = 0
		for k := 0; ; k++ {
			if i >= len(b) {
				return t, nil, errShortElement
			}
			c := b[i]
			i++
			if k == 0 && c&0x7f == 0 {
				return t, nil, errors.New("non-minimal high tag number")
			}
			if k >= 4 {
				return t, nil, errors.New("tag number too large")
			}
			t.tag = t.tag<<7 | ber.Tag(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return t, nil, errShortElement
	}
	lb := b[i]
	i++
	var n uint64
	switch {
	case lb < 0x80:
		n = uint64(lb)
	case lb == 0x80:
		return t, nil, ErrIndefiniteLength
	default:
		k := int(lb & 0x7f)
		if k > 8 {
			return t, nil, errors.New("length field too long")
		}
		if len(b)-i < k {
			return t, nil, errShortElement
		}
		for _, c := range b[i : i+k] {
			n = n<<8 | uint64(c)
		}
		i += k
	}
	if n > uint64(len(b)-i) {
		return t, nil, fmt.Errorf("element claims %d bytes, %d remain: %w", n, len(b)-i, errShortElement)
	}
	t.content = b[i : i+int(n)]
	t.size = i + int(n)
	t.raw = b[:t.size]
	return t, b[t.size:], nil
}

type scanState struct {
	elements int
	memory   int64
}

// scan walks every element of b without allocating, enforcing the caps and
// that constructed contents are exactly a sequence of elements, before ber
// builds its tree (which costs ~256 bytes per element plus a copy of the
// content at every nesting level).
func (s *scanState) scan(b []byte, depth int, lim Limits) error {
	if depth >= lim.MaxDepth {
		return &LimitError{Limit: ErrTooDeep, Got: int64(depth + 1), Max: int64(lim.MaxDepth)}
	}
	for len(b) > 0 {
		t, rest, err := parseTLV(b)
		if err != nil {
			return err
		}
		s.elements++
		if s.elements > lim.MaxElements {
			return &LimitError{Limit: ErrTooManyElements, Got: int64(s.elements), Max: int64(lim.MaxElements)}
		}
		s.memory += int64(t.size) + elementOverhead
		if s.memory > lim.MaxDecodeMemory {
			return &LimitError{Limit: ErrTooCostly, Got: s.memory, Max: lim.MaxDecodeMemory}
		}
		if t.constructed {
			if err := s.scan(t.content, depth+1, lim); err != nil {
				return err
			}
		}
		b = rest
	}
	return nil
}

// parseInt decodes a BER INTEGER content, refusing what ber.ParseInt64
// would silently misread (empty or longer than 8 octets).
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("integer of %d octets", len(b))
	}
	return ber.ParseInt64(b)
}
