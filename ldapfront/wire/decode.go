package wire

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

func decodeEnvelope(p *ber.Packet, lim Limits) (*Message, error) {
	if err := count(p, 2, 3, "LDAPMessage"); err != nil {
		return nil, err
	}
	id, err := integer(p.Children[0], ber.ClassUniversal, ber.TagInteger, "messageID")
	if err != nil {
		return nil, err
	}
	m := &Message{ID: id}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication {
		return nil, errors.New("protocolOp is not an APPLICATION element")
	}
	if m.Op, err = decodeOp(op); err != nil {
		return nil, fmt.Errorf("%s: %w", opName(OpTag(op.Tag)), err)
	}
	if len(p.Children) == 3 {
		if m.Controls, err = decodeControls(p.Children[2]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func opName(t OpTag) string {
	if n, ok := ldap.ApplicationMap[uint8(t)]; ok && t < 256 {
		return n
	}
	return fmt.Sprintf("operation %d", t)
}

func decodeOp(op *ber.Packet) (any, error) {
	switch OpTag(op.Tag) {
	case TagBindRequest:
		return decodeBind(op)
	case TagUnbindRequest:
		if op.TagType != ber.TypePrimitive {
			return nil, errors.New("not a primitive NULL")
		}
		return &UnbindRequest{}, nil
	case TagSearchRequest:
		return decodeSearch(op)
	case TagModifyRequest:
		return decodeModify(op)
	case TagAddRequest:
		return decodeAdd(op)
	case TagDelRequest:
		dn, err := octets(op, ber.ClassApplication, ber.Tag(TagDelRequest), "entry")
		if err != nil {
			return nil, err
		}
		return &DeleteRequest{DN: string(dn)}, nil
	case TagModifyDNRequest:
		return decodeModifyDN(op)
	case TagCompareRequest:
		return decodeCompare(op)
	case TagAbandonRequest:
		id, err := integer(op, ber.ClassApplication, ber.Tag(TagAbandonRequest), "abandon messageID")
		if err != nil {
			return nil, err
		}
		if id < 0 || id > maxMessageID {
			return nil, fmt.Errorf("abandon messageID %d out of range", id)
		}
		return &AbandonRequest{MessageID: id}, nil
	case TagExtendedRequest:
		return decodeExtended(op)
	}
	return &UnknownOp{Tag: OpTag(op.Tag)}, nil
}

func decodeBind(op *ber.Packet) (*BindRequest, error) {
	if err := seq(op, 3, 3, "BindRequest"); err != nil {
		return nil, err
	}
	v, err := integer(op.Children[0], ber.ClassUniversal, ber.TagInteger, "version")
	if err != nil {
		return nil, err
	}
	if v < 1 || v > 127 {
		return nil, fmt.Errorf("version %d out of range 1..127", v)
	}
	name, err := str(op.Children[1], "name")
	if err != nil {
		return nil, err
	}
	b := &BindRequest{Version: int(v), Name: name}
	auth := op.Children[2]
	if auth.ClassType != ber.ClassContext {
		return nil, errors.New("authentication is not a context-tagged choice")
	}
	b.AuthChoice = int(auth.Tag)
	switch auth.Tag {
	case 0:
		if b.Password, err = octets(auth, ber.ClassContext, 0, "simple password"); err != nil {
			return nil, err
		}
		b.Simple = true
	case 3:
		if err := seq(auth, 1, 2, "SaslCredentials"); err != nil {
			return nil, err
		}
		if b.SASLMechanism, err = str(auth.Children[0], "SASL mechanism"); err != nil {
			return nil, err
		}
		if len(auth.Children) == 2 {
			if b.SASLCredentials, err = octets(auth.Children[1], ber.ClassUniversal, ber.TagOctetString, "SASL credentials"); err != nil {
				return nil, err
			}
			b.HasSASLCredentials = true
		}
	}
	return b, nil
}

func decodeSearch(op *ber.Packet) (*SearchRequest, error) {
	if err := seq(op, 8, 8, "SearchRequest"); err != nil {
		return nil, err
	}
	c := op.Children
	s := &SearchRequest{}
	var err error
	if s.BaseDN, err = str(c[0], "baseObject"); err != nil {
		return nil, err
	}
	scope, err := integer(c[1], ber.ClassUniversal, ber.TagEnumerated, "scope")
	if err != nil {
		return nil, err
	}
	if scope < 0 || scope > 2 {
		return nil, fmt.Errorf("scope %d is not baseObject, singleLevel or wholeSubtree", scope)
	}
	s.Scope = SearchScope(scope)
	deref, err := integer(c[2], ber.ClassUniversal, ber.TagEnumerated, "derefAliases")
	if err != nil {
		return nil, err
	}
	if deref < 0 || deref > 3 {
		return nil, fmt.Errorf("derefAliases %d out of range", deref)
	}
	s.DerefAliases = DerefAliases(deref)
	if s.SizeLimit, err = limit(c[3], "sizeLimit"); err != nil {
		return nil, err
	}
	if s.TimeLimit, err = limit(c[4], "timeLimit"); err != nil {
		return nil, err
	}
	if s.TypesOnly, err = boolean(c[5], "typesOnly"); err != nil {
		return nil, err
	}
	if err := validateFilter(c[6]); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	s.Filter = c[6]
	if err := seq(c[7], 0, -1, "attributes"); err != nil {
		return nil, err
	}
	for _, a := range c[7].Children {
		name, err := str(a, "attribute selector")
		if err != nil {
			return nil, err
		}
		s.Attributes = append(s.Attributes, name)
	}
	return s, nil
}

func limit(p *ber.Packet, what string) (int64, error) {
	v, err := integer(p, ber.ClassUniversal, ber.TagInteger, what)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxMessageID {
		return 0, fmt.Errorf("%s %d out of range 0..%d", what, v, maxMessageID)
	}
	return v, nil
}

func decodeModify(op *ber.Packet) (*ModifyRequest, error) {
	if err := seq(op, 2, 2, "ModifyRequest"); err != nil {
		return nil, err
	}
	obj, err := str(op.Children[0], "object")
	if err != nil {
		return nil, err
	}
	m := &ModifyRequest{Object: obj}
	if err := seq(op.Children[1], 0, -1, "changes"); err != nil {
		return nil, err
	}
	for _, ch := range op.Children[1].Children {
		if err := seq(ch, 2, 2, "change"); err != nil {
			return nil, err
		}
		o, err := integer(ch.Children[0], ber.ClassUniversal, ber.TagEnumerated, "operation")
		if err != nil {
			return nil, err
		}
		if o < 0 || o > 3 {
			return nil, fmt.Errorf("modify operation %d out of range", o)
		}
		a, err := attribute(ch.Children[1], false)
		if err != nil {
			return nil, err
		}
		m.Changes = append(m.Changes, Change{Operation: ModifyOperation(o), Modification: a})
	}
	return m, nil
}

func decodeAdd(op *ber.Packet) (*AddRequest, error) {
	if err := seq(op, 2, 2, "AddRequest"); err != nil {
		return nil, err
	}
	entry, err := str(op.Children[0], "entry")
	if err != nil {
		return nil, err
	}
	a := &AddRequest{Entry: entry}
	if err := seq(op.Children[1], 0, -1, "attributes"); err != nil {
		return nil, err
	}
	for _, p := range op.Children[1].Children {
		attr, err := attribute(p, true)
		if err != nil {
			return nil, err
		}
		a.Attributes = append(a.Attributes, attr)
	}
	return a, nil
}

// attribute decodes a PartialAttribute; an Add's Attribute must have at
// least one value (RFC 4511 section 4.1.7).
func attribute(p *ber.Packet, needValue bool) (Attribute, error) {
	var a Attribute
	if err := seq(p, 2, 2, "attribute"); err != nil {
		return a, err
	}
	var err error
	if a.Type, err = str(p.Children[0], "attribute type"); err != nil {
		return a, err
	}
	vals := p.Children[1]
	if err := want(vals, ber.ClassUniversal, true, ber.TagSet, "vals"); err != nil {
		return a, err
	}
	if needValue && len(vals.Children) == 0 {
		return a, fmt.Errorf("attribute %q has no values", a.Type)
	}
	for _, v := range vals.Children {
		s, err := str(v, "attribute value")
		if err != nil {
			return a, err
		}
		a.Values = append(a.Values, s)
	}
	return a, nil
}

func decodeModifyDN(op *ber.Packet) (*ModifyDNRequest, error) {
	if err := seq(op, 3, 4, "ModifyDNRequest"); err != nil {
		return nil, err
	}
	r := &ModifyDNRequest{}
	var err error
	if r.Entry, err = str(op.Children[0], "entry"); err != nil {
		return nil, err
	}
	if r.NewRDN, err = str(op.Children[1], "newrdn"); err != nil {
		return nil, err
	}
	if r.DeleteOldRDN, err = boolean(op.Children[2], "deleteoldrdn"); err != nil {
		return nil, err
	}
	if len(op.Children) == 4 {
		sup, err := octets(op.Children[3], ber.ClassContext, 0, "newSuperior")
		if err != nil {
			return nil, err
		}
		r.NewSuperior, r.HasNewSuperior = string(sup), true
	}
	return r, nil
}

func decodeCompare(op *ber.Packet) (*CompareRequest, error) {
	if err := seq(op, 2, 2, "CompareRequest"); err != nil {
		return nil, err
	}
	dn, err := str(op.Children[0], "entry")
	if err != nil {
		return nil, err
	}
	ava := op.Children[1]
	if err := seq(ava, 2, 2, "ava"); err != nil {
		return nil, err
	}
	attr, err := str(ava.Children[0], "attributeDesc")
	if err != nil {
		return nil, err
	}
	val, err := str(ava.Children[1], "assertionValue")
	if err != nil {
		return nil, err
	}
	return &CompareRequest{DN: dn, Attribute: attr, Value: val}, nil
}

func decodeExtended(op *ber.Packet) (*ExtendedRequest, error) {
	if err := want(op, ber.ClassApplication, true, ber.Tag(TagExtendedRequest), "ExtendedRequest"); err != nil {
		return nil, err
	}
	if err := count(op, 1, 2, "ExtendedRequest"); err != nil {
		return nil, err
	}
	name, err := octets(op.Children[0], ber.ClassContext, 0, "requestName")
	if err != nil {
		return nil, err
	}
	r := &ExtendedRequest{Name: string(name)}
	if len(op.Children) == 2 {
		if r.Value, err = octets(op.Children[1], ber.ClassContext, 1, "requestValue"); err != nil {
			return nil, err
		}
		r.HasValue = true
	}
	return r, nil
}

// Filter choice tags (RFC 4511 section 4.5.1.7).
const (
	filterAnd = iota
	filterOr
	filterNot
	filterEquality
	filterSubstrings
	filterGreaterOrEqual
	filterLessOrEqual
	filterPresent
	filterApprox
	filterExtensible
)

// validateFilter checks the filter's shape so that evaluators can index
// children without checks of their own; ldap.DecompileFilter recovers from
// some shapes it cannot handle but accepts others silently.
func validateFilter(f *ber.Packet) error {
	if f.ClassType != ber.ClassContext {
		return errors.New("filter element is not context-tagged")
	}
	switch f.Tag {
	case filterAnd, filterOr:
		// Empty sets are RFC 4526 absolute true and false.
		if f.TagType != ber.TypeConstructed {
			return errors.New("and/or filter is not constructed")
		}
		for _, c := range f.Children {
			if err := validateFilter(c); err != nil {
				return err
			}
		}
		return nil
	case filterNot:
		if err := count(f, 1, 1, "not filter"); err != nil {
			return err
		}
		if f.TagType != ber.TypeConstructed {
			return errors.New("not filter is not constructed")
		}
		return validateFilter(f.Children[0])
	case filterEquality, filterGreaterOrEqual, filterLessOrEqual, filterApprox:
		if err := want(f, ber.ClassContext, true, f.Tag, "attribute value assertion"); err != nil {
			return err
		}
		if err := count(f, 2, 2, "attribute value assertion"); err != nil {
			return err
		}
		for _, c := range f.Children {
			if _, err := str(c, "assertion"); err != nil {
				return err
			}
		}
		return nil
	case filterSubstrings:
		return validateSubstrings(f)
	case filterPresent:
		_, err := octets(f, ber.ClassContext, filterPresent, "present filter")
		return err
	case filterExtensible:
		return validateExtensible(f)
	}
	return fmt.Errorf("unknown filter choice %d", f.Tag)
}

func validateSubstrings(f *ber.Packet) error {
	if err := want(f, ber.ClassContext, true, filterSubstrings, "substring filter"); err != nil {
		return err
	}
	if err := count(f, 2, 2, "substring filter"); err != nil {
		return err
	}
	if _, err := str(f.Children[0], "substring type"); err != nil {
		return err
	}
	subs := f.Children[1]
	if err := seq(subs, 1, -1, "substrings"); err != nil {
		return err
	}
	last := len(subs.Children) - 1
	for i, s := range subs.Children {
		if _, err := octets(s, ber.ClassContext, s.Tag, "substring"); err != nil {
			return err
		}
		switch {
		case s.Tag == 0 && i == 0, s.Tag == 1, s.Tag == 2 && i == last:
		default:
			return fmt.Errorf("substring choice %d at position %d", s.Tag, i)
		}
	}
	return nil
}

func validateExtensible(f *ber.Packet) error {
	if err := want(f, ber.ClassContext, true, filterExtensible, "extensible match"); err != nil {
		return err
	}
	if err := count(f, 1, 4, "extensible match"); err != nil {
		return err
	}
	prev := ber.Tag(0)
	hasValue := false
	for _, c := range f.Children {
		if c.Tag <= prev || c.Tag > 4 {
			return fmt.Errorf("extensible match element %d out of order", c.Tag)
		}
		prev = c.Tag
		if c.Tag == 4 {
			if err := want(c, ber.ClassContext, false, 4, "dnAttributes"); err != nil {
				return err
			}
			if c.Data.Len() != 1 {
				return errors.New("dnAttributes is not a one-octet BOOLEAN")
			}
			// ber leaves Value nil on context-tagged elements, and
			// ldap.DecompileFilter asserts it is a bool, so every (:dn:=)
			// filter from a real client would fail without this.
			c.Value = c.Data.Bytes()[0] != 0
			continue
		}
		if _, err := octets(c, ber.ClassContext, c.Tag, "extensible match element"); err != nil {
			return err
		}
		hasValue = hasValue || c.Tag == 3
	}
	if !hasValue {
		return errors.New("extensible match has no matchValue")
	}
	return nil
}

// The helpers below check one element's identity before reading it; BER
// from the network is never trusted to have the shape the ASN.1 promises.

func want(p *ber.Packet, class ber.Class, constructed bool, tag ber.Tag, what string) error {
	if p.ClassType != class || (p.TagType == ber.TypeConstructed) != constructed || p.Tag != tag {
		return fmt.Errorf("%s: unexpected element (class %d, tag %d)", what, p.ClassType>>6, p.Tag)
	}
	return nil
}

func count(p *ber.Packet, lo, hi int, what string) error {
	if n := len(p.Children); n < lo || (hi >= 0 && n > hi) {
		return fmt.Errorf("%s has %d elements", what, n)
	}
	return nil
}

// seq checks a constructed element (a SEQUENCE, SET or an implicitly
// tagged one) and its number of children.
func seq(p *ber.Packet, lo, hi int, what string) error {
	if p.TagType != ber.TypeConstructed {
		return fmt.Errorf("%s is not constructed", what)
	}
	if p.ClassType == ber.ClassUniversal && p.Tag != ber.TagSequence && p.Tag != ber.TagSet {
		return fmt.Errorf("%s: unexpected universal tag %d", what, p.Tag)
	}
	return count(p, lo, hi, what)
}

func content(p *ber.Packet) []byte {
	if p.Data == nil {
		return nil
	}
	return p.Data.Bytes()
}

// octets returns a copy of a primitive element's content, never nil, so
// "present but empty" stays distinguishable from "absent".
func octets(p *ber.Packet, class ber.Class, tag ber.Tag, what string) ([]byte, error) {
	if err := want(p, class, false, tag, what); err != nil {
		return nil, err
	}
	return append([]byte{}, content(p)...), nil
}

func str(p *ber.Packet, what string) (string, error) {
	if err := want(p, ber.ClassUniversal, false, ber.TagOctetString, what); err != nil {
		return "", err
	}
	return string(content(p)), nil
}

func integer(p *ber.Packet, class ber.Class, tag ber.Tag, what string) (int64, error) {
	if err := want(p, class, false, tag, what); err != nil {
		return 0, err
	}
	v, err := parseInt(content(p))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

func boolean(p *ber.Packet, what string) (bool, error) {
	if err := want(p, ber.ClassUniversal, false, ber.TagBoolean, what); err != nil {
		return false, err
	}
	b := content(p)
	if len(b) != 1 {
		return false, fmt.Errorf("%s: BOOLEAN of %d octets", what, len(b))
	}
	return b[0] != 0, nil
}
