package wire

import (
	"errors"
	"fmt"
	"io"
	"sync"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// Encoding builds the ber.Packet trees go-ldap's client builds and expects,
// element for element, so go-ldap and OpenLDAP clients read them unchanged.

// Packet returns the LDAPMessage envelope around m.Op, which must be one of
// this package's request or response types (pointer or value).
func (m *Message) Packet() (*ber.Packet, error) {
	if m.ID < 0 || m.ID > maxMessageID {
		return nil, fmt.Errorf("message ID %d out of range 0..%d", m.ID, maxMessageID)
	}
	op, err := opPacket(m.Op)
	if err != nil {
		return nil, err
	}
	env := ber.NewSequence("LDAPMessage")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, m.ID, "messageID"))
	env.AppendChild(op)
	if len(m.Controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, c := range m.Controls {
			cs.AppendChild(c.packet())
		}
		env.AppendChild(cs)
	}
	return env, nil
}

// Bytes returns the BER encoding of m.
func (m *Message) Bytes() ([]byte, error) {
	if b, ok := appendFast(nil, m); ok {
		return b, nil
	}
	p, err := m.Packet()
	if err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}

// bufPool recycles encoding buffers of WriteMessage.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// WriteMessage encodes m and writes it with a single Write, so concurrent
// writers serialised by a mutex never interleave partial PDUs.
func WriteMessage(w io.Writer, m *Message) error {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			bufPool.Put(bp)
		}
	}()
	b, ok := appendFast((*bp)[:0], m)
	if ok {
		*bp = b
	} else {
		var err error
		if b, err = m.Bytes(); err != nil {
			return err
		}
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing ldap message %d: %w", m.ID, err)
	}
	return nil
}

// ErrNoEncoder is returned for an Op this package cannot encode, such as
// UnknownOp.
var ErrNoEncoder = errors.New("no encoder for this ldap operation")

func opPacket(op any) (*ber.Packet, error) {
	switch o := op.(type) {
	case *BindResponse:
		p := resultPacket(TagBindResponse, o.Result)
		if o.HasServerSASLCreds || o.ServerSASLCreds != nil {
			p.AppendChild(octetsPacket(ber.ClassContext, 7, o.ServerSASLCreds))
		}
		return p, nil
	case *SearchResultEntry:
		p := app(TagSearchResultEntry, true)
		p.AppendChild(strPacket(o.DN))
		p.AppendChild(attributeList(o.Attributes))
		return p, nil
	case *SearchResultReference:
		p := app(TagSearchResultReference, true)
		for _, u := range o.URIs {
			p.AppendChild(strPacket(u))
		}
		return p, nil
	case *SearchResultDone:
		return resultPacket(TagSearchResultDone, o.Result), nil
	case *ModifyResponse:
		return resultPacket(TagModifyResponse, o.Result), nil
	case *AddResponse:
		return resultPacket(TagAddResponse, o.Result), nil
	case *DeleteResponse:
		return resultPacket(TagDelResponse, o.Result), nil
	case *ModifyDNResponse:
		return resultPacket(TagModifyDNResponse, o.Result), nil
	case *CompareResponse:
		return resultPacket(TagCompareResponse, o.Result), nil
	case *ExtendedResponse:
		p := resultPacket(TagExtendedResponse, o.Result)
		if o.Name != "" {
			p.AppendChild(octetsPacket(ber.ClassContext, 10, []byte(o.Name)))
		}
		if o.HasValue || o.Value != nil {
			p.AppendChild(octetsPacket(ber.ClassContext, 11, o.Value))
		}
		return p, nil
	}
	if p, ok := requestPacket(op); ok {
		return p, nil
	}
	if v, ok := deref(op); ok {
		return opPacket(v)
	}
	return nil, fmt.Errorf("%w: %T", ErrNoEncoder, op)
}

// deref lets callers put values rather than pointers in Message.Op.
func deref(op any) (any, bool) {
	switch o := op.(type) {
	case BindResponse:
		return &o, true
	case SearchResultEntry:
		return &o, true
	case SearchResultReference:
		return &o, true
	case SearchResultDone:
		return &o, true
	case ModifyResponse:
		return &o, true
	case AddResponse:
		return &o, true
	case DeleteResponse:
		return &o, true
	case ModifyDNResponse:
		return &o, true
	case CompareResponse:
		return &o, true
	case ExtendedResponse:
		return &o, true
	case BindRequest:
		return &o, true
	case UnbindRequest:
		return &o, true
	case SearchRequest:
		return &o, true
	case ModifyRequest:
		return &o, true
	case AddRequest:
		return &o, true
	case DeleteRequest:
		return &o, true
	case ModifyDNRequest:
		return &o, true
	case CompareRequest:
		return &o, true
	case AbandonRequest:
		return &o, true
	case ExtendedRequest:
		return &o, true
	}
	return nil, false
}

func app(t OpTag, constructed bool) *ber.Packet {
	typ := ber.TypePrimitive
	if constructed {
		typ = ber.TypeConstructed
	}
	return ber.Encode(ber.ClassApplication, typ, ber.Tag(t), nil, opName(t))
}

func resultPacket(t OpTag, r Result) *ber.Packet {
	p := app(t, true)
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(r.Code), "resultCode"))
	p.AppendChild(strPacket(r.MatchedDN))
	p.AppendChild(strPacket(r.DiagnosticMessage))
	if len(r.Referral) > 0 {
		ref := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "referral")
		for _, u := range r.Referral {
			ref.AppendChild(strPacket(u))
		}
		p.AppendChild(ref)
	}
	return p
}

func strPacket(s string) *ber.Packet {
	return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
}

func octetsPacket(class ber.Class, tag ber.Tag, b []byte) *ber.Packet {
	return ber.NewString(class, ber.TypePrimitive, tag, string(b), "")
}

func boolPacket(v bool) *ber.Packet {
	return ber.NewLDAPBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, v, "")
}

func enumPacket(v int64) *ber.Packet {
	return ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, v, "")
}

func attributePacket(a Attribute) *ber.Packet {
	p := ber.NewSequence("PartialAttribute")
	p.AppendChild(strPacket(a.Type))
	vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
	for _, v := range a.Values {
		vals.AppendChild(strPacket(v))
	}
	p.AppendChild(vals)
	return p
}

func attributeList(attrs []Attribute) *ber.Packet {
	p := ber.NewSequence("attributes")
	for _, a := range attrs {
		p.AppendChild(attributePacket(a))
	}
	return p
}
