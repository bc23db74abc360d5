package wire

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// A search request is decoded straight from its bytes: only the filter and
// the controls go through ber's tree decoder (the directory and go-ldap's
// codecs work on those trees). Searches are most of what a directory
// serves; decoding the envelope and the eight fields of each into packets
// was a fifth of the server's time per search. TestFastSearchMatchesTree
// and FuzzFastSearch hold this path to decodeEnvelope's results.

// decodeSearchMessage decodes an LDAPMessage whose operation is a
// SearchRequest from body, the content of the message SEQUENCE.
func decodeSearchMessage(body []byte) (*Message, error) {
	idEl, rest, err := parseTLV(body)
	if err != nil {
		return nil, err
	}
	id, err := tlvInt(idEl, ber.ClassUniversal, ber.TagInteger, "messageID")
	if err != nil {
		return nil, err
	}
	opEl, rest, err := parseTLV(rest)
	if err != nil {
		return nil, err
	}
	m := &Message{ID: id}
	op, err := decodeSearchTLV(opEl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opName(TagSearchRequest), err)
	}
	m.Op = op
	if len(rest) > 0 {
		ctlEl, after, err := parseTLV(rest)
		if err != nil {
			return nil, err
		}
		if len(after) > 0 {
			return nil, errors.New("LDAPMessage has more than 3 elements")
		}
		p, err := ber.DecodePacketErr(rest[:ctlEl.size])
		if err != nil {
			return nil, err
		}
		if m.Controls, err = decodeControls(p); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func decodeSearchTLV(op tlv) (*SearchRequest, error) {
	if !op.constructed {
		return nil, errors.New("SearchRequest is not constructed")
	}
	var els [8]tlv
	b := op.content
	n := 0
	for len(b) > 0 {
		el, rest, err := parseTLV(b)
		if err != nil {
			return nil, err
		}
		if n == len(els) {
			return nil, fmt.Errorf("SearchRequest has more than %d elements", len(els))
		}
		els[n] = el
		n++
		b = rest
	}
	if n != len(els) {
		return nil, fmt.Errorf("SearchRequest has %d elements", n)
	}
	s := &SearchRequest{}
	var err error
	if s.BaseDN, err = tlvStr(els[0], "baseObject"); err != nil {
		return nil, err
	}
	scope, err := tlvInt(els[1], ber.ClassUniversal, ber.TagEnumerated, "scope")
	if err != nil {
		return nil, err
	}
	if scope < 0 || scope > 2 {
		return nil, fmt.Errorf("scope %d is not baseObject, singleLevel or wholeSubtree", scope)
	}
	s.Scope = SearchScope(scope)
	deref, err := tlvInt(els[2], ber.ClassUniversal, ber.TagEnumerated, "derefAliases")
	if err != nil {
		return nil, err
	}
	if deref < 0 || deref > 3 {
		return nil, fmt.Errorf("derefAliases %d out of range", deref)
	}
	s.DerefAliases = DerefAliases(deref)
	if s.SizeLimit, err = tlvLimit(els[3], "sizeLimit"); err != nil {
		return nil, err
	}
	if s.TimeLimit, err = tlvLimit(els[4], "timeLimit"); err != nil {
		return nil, err
	}
	if err := tlvWant(els[5], ber.ClassUniversal, false, ber.TagBoolean, "typesOnly"); err != nil {
		return nil, err
	}
	if len(els[5].content) != 1 {
		return nil, fmt.Errorf("typesOnly: BOOLEAN of %d octets", len(els[5].content))
	}
	s.TypesOnly = els[5].content[0] != 0
	fp, err := ber.DecodePacketErr(els[6].raw)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if err := validateFilter(fp); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	s.Filter = fp
	attrs := els[7]
	if !attrs.constructed || (attrs.class == ber.ClassUniversal && attrs.tag != ber.TagSequence && attrs.tag != ber.TagSet) {
		return nil, errors.New("attributes is not a SEQUENCE")
	}
	b = attrs.content
	for len(b) > 0 {
		el, rest, err := parseTLV(b)
		if err != nil {
			return nil, err
		}
		name, err := tlvStr(el, "attribute selector")
		if err != nil {
			return nil, err
		}
		s.Attributes = append(s.Attributes, name)
		b = rest
	}
	return s, nil
}

func tlvWant(t tlv, class ber.Class, constructed bool, tag ber.Tag, what string) error {
	if t.class != class || t.constructed != constructed || t.tag != tag {
		return fmt.Errorf("%s: unexpected element (class %d, tag %d)", what, t.class>>6, t.tag)
	}
	return nil
}

func tlvStr(t tlv, what string) (string, error) {
	if err := tlvWant(t, ber.ClassUniversal, false, ber.TagOctetString, what); err != nil {
		return "", err
	}
	return string(t.content), nil
}

func tlvInt(t tlv, class ber.Class, tag ber.Tag, what string) (int64, error) {
	if err := tlvWant(t, class, false, tag, what); err != nil {
		return 0, err
	}
	v, err := parseInt(t.content)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

func tlvLimit(t tlv, what string) (int64, error) {
	v, err := tlvInt(t, ber.ClassUniversal, ber.TagInteger, what)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxMessageID {
		return 0, fmt.Errorf("%s %d out of range 0..%d", what, v, maxMessageID)
	}
	return v, nil
}
