package wire

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Control is a request or response control (RFC 4511 section 4.1.11) with
// its value left as raw octets; the server decodes the few it supports and
// answers unavailableCriticalExtension for unknown critical ones.
type Control struct {
	OID         string
	Criticality bool
	Value       []byte
	HasValue    bool
}

func decodeControls(p *ber.Packet) ([]Control, error) {
	if p.ClassType != ber.ClassContext || p.Tag != 0 || p.TagType != ber.TypeConstructed {
		return nil, errors.New("third element of LDAPMessage is not controls [0]")
	}
	out := make([]Control, 0, len(p.Children))
	for _, c := range p.Children {
		ctl, err := decodeControl(c)
		if err != nil {
			return nil, err
		}
		out = append(out, ctl)
	}
	return out, nil
}

func decodeControl(p *ber.Packet) (Control, error) {
	var c Control
	if err := want(p, ber.ClassUniversal, true, ber.TagSequence, "control"); err != nil {
		return c, err
	}
	if err := count(p, 1, 3, "control"); err != nil {
		return c, err
	}
	oid, err := str(p.Children[0], "controlType")
	if err != nil {
		return c, err
	}
	c.OID = oid
	rest := p.Children[1:]
	// criticality is DEFAULT FALSE, so tell it from the value by its tag.
	if len(rest) > 0 && rest[0].ClassType == ber.ClassUniversal && rest[0].Tag == ber.TagBoolean {
		if c.Criticality, err = boolean(rest[0], "criticality"); err != nil {
			return c, err
		}
		rest = rest[1:]
	}
	switch len(rest) {
	case 0:
	case 1:
		if c.Value, err = octets(rest[0], ber.ClassUniversal, ber.TagOctetString, "controlValue"); err != nil {
			return c, err
		}
		c.HasValue = true
	default:
		return c, errors.New("control has elements after its value")
	}
	return c, nil
}

func (c Control) packet() *ber.Packet {
	p := ber.NewSequence("Control")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, c.OID, "controlType"))
	if c.Criticality {
		p.AppendChild(ber.NewLDAPBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, "criticality"))
	}
	if c.HasValue || c.Value != nil {
		p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(c.Value), "controlValue"))
	}
	return p
}

// Decode hands the control to go-ldap's codec, for controls this package
// has no decoder of its own for. It never panics.
func (c Control) Decode() (ctl ldap.Control, err error) {
	defer func() {
		if r := recover(); r != nil {
			ctl, err = nil, fmt.Errorf("decoding control %s: %v", c.OID, r)
		}
	}()
	p, err := ber.DecodePacketErr(c.packet().Bytes())
	if err != nil {
		return nil, err
	}
	return ldap.DecodeControl(p)
}

// FindControl returns the first control with the given OID.
func FindControl(controls []Control, oid string) (Control, bool) {
	for _, c := range controls {
		if c.OID == oid {
			return c, true
		}
	}
	return Control{}, false
}

// PagedResults is the value of the Simple Paged Results control (RFC 2696).
// In a request Size is the page size the client wants; in a response it is
// the server's estimate of the total (0 if unknown). An empty Cookie in a
// request starts a search and in a response ends it.
type PagedResults struct {
	Size   int64
	Cookie []byte
}

// ParsePagedResults decodes the value of a paged results control.
func ParsePagedResults(c Control) (PagedResults, error) {
	var pr PagedResults
	if c.OID != OIDPagedResults {
		return pr, fmt.Errorf("control %s is not paged results", c.OID)
	}
	if !c.HasValue {
		return pr, errors.New("paged results control has no value")
	}
	p, err := decodeValue(c.Value)
	if err != nil {
		return pr, fmt.Errorf("paged results control: %w", err)
	}
	if err := want(p, ber.ClassUniversal, true, ber.TagSequence, "paged results value"); err != nil {
		return pr, err
	}
	if err := count(p, 2, 2, "paged results value"); err != nil {
		return pr, err
	}
	if pr.Size, err = limit(p.Children[0], "paged results size"); err != nil {
		return pr, err
	}
	if pr.Cookie, err = octets(p.Children[1], ber.ClassUniversal, ber.TagOctetString, "paged results cookie"); err != nil {
		return pr, err
	}
	return pr, nil
}

// Control returns the response control carrying pr, built with go-ldap's
// encoder so clients see exactly the shape they send.
func (pr PagedResults) Control() Control {
	ctl := ldap.NewControlPaging(uint32(min(max(pr.Size, 0), maxMessageID)))
	ctl.SetCookie(pr.Cookie)
	enc := ctl.Encode()
	// enc is SEQUENCE { controlType, controlValue }; the value's data is
	// the encoded realSearchControlValue.
	return Control{OID: OIDPagedResults, Value: append([]byte{}, enc.Children[1].Data.Bytes()...), HasValue: true}
}

// valueLimits bound nested values (control and extended operation values),
// which are already inside a PDU that passed the caps.
func valueLimits() Limits { return Limits{MaxBytes: DefaultMaxBytes}.withDefaults() }

// decodeValue decodes exactly one BER element from b with the same
// structural checks as a PDU.
func decodeValue(b []byte) (p *ber.Packet, err error) {
	_, rest, err := parseTLV(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the value", len(rest))
	}
	var st scanState
	if err := st.scan(b, 0, valueLimits()); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return ber.DecodePacketErr(b)
}
