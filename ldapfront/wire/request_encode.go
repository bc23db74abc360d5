package wire

import ber "github.com/go-asn1-ber/asn1-ber"

// Request encoders exist so decoded requests can be re-encoded: the fuzz
// target checks decode(encode(decode(x))) == decode(x), and tests build
// requests go-ldap has no builder for (Abandon, SASL with credentials).

func requestPacket(op any) (*ber.Packet, bool) {
	switch o := op.(type) {
	case *BindRequest:
		p := app(TagBindRequest, true)
		p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(o.Version), "version"))
		p.AppendChild(strPacket(o.Name))
		switch {
		case o.AuthChoice == 3 || (!o.Simple && o.SASLMechanism != ""):
			sasl := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "SaslCredentials")
			sasl.AppendChild(strPacket(o.SASLMechanism))
			if o.HasSASLCredentials || o.SASLCredentials != nil {
				sasl.AppendChild(octetsPacket(ber.ClassUniversal, ber.TagOctetString, o.SASLCredentials))
			}
			p.AppendChild(sasl)
		case o.Simple || o.AuthChoice == 0:
			p.AppendChild(octetsPacket(ber.ClassContext, 0, o.Password))
		default:
			p.AppendChild(octetsPacket(ber.ClassContext, ber.Tag(o.AuthChoice), nil))
		}
		return p, true
	case *UnbindRequest:
		return app(TagUnbindRequest, false), true
	case *SearchRequest:
		p := app(TagSearchRequest, true)
		p.AppendChild(strPacket(o.BaseDN))
		p.AppendChild(enumPacket(int64(o.Scope)))
		p.AppendChild(enumPacket(int64(o.DerefAliases)))
		p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, o.SizeLimit, "sizeLimit"))
		p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, o.TimeLimit, "timeLimit"))
		p.AppendChild(boolPacket(o.TypesOnly))
		f := o.Filter
		if f == nil {
			// (objectClass=*), the conventional match-all filter.
			f = ber.NewString(ber.ClassContext, ber.TypePrimitive, filterPresent, "objectClass", "")
		}
		p.AppendChild(f)
		attrs := ber.NewSequence("attributes")
		for _, a := range o.Attributes {
			attrs.AppendChild(strPacket(a))
		}
		p.AppendChild(attrs)
		return p, true
	case *ModifyRequest:
		p := app(TagModifyRequest, true)
		p.AppendChild(strPacket(o.Object))
		changes := ber.NewSequence("changes")
		for _, c := range o.Changes {
			ch := ber.NewSequence("change")
			ch.AppendChild(enumPacket(int64(c.Operation)))
			ch.AppendChild(attributePacket(c.Modification))
			changes.AppendChild(ch)
		}
		p.AppendChild(changes)
		return p, true
	case *AddRequest:
		p := app(TagAddRequest, true)
		p.AppendChild(strPacket(o.Entry))
		p.AppendChild(attributeList(o.Attributes))
		return p, true
	case *DeleteRequest:
		return ber.NewString(ber.ClassApplication, ber.TypePrimitive, ber.Tag(TagDelRequest), o.DN, "DelRequest"), true
	case *ModifyDNRequest:
		p := app(TagModifyDNRequest, true)
		p.AppendChild(strPacket(o.Entry))
		p.AppendChild(strPacket(o.NewRDN))
		p.AppendChild(boolPacket(o.DeleteOldRDN))
		if o.HasNewSuperior {
			p.AppendChild(octetsPacket(ber.ClassContext, 0, []byte(o.NewSuperior)))
		}
		return p, true
	case *CompareRequest:
		p := app(TagCompareRequest, true)
		p.AppendChild(strPacket(o.DN))
		ava := ber.NewSequence("ava")
		ava.AppendChild(strPacket(o.Attribute))
		ava.AppendChild(strPacket(o.Value))
		p.AppendChild(ava)
		return p, true
	case *AbandonRequest:
		return ber.NewInteger(ber.ClassApplication, ber.TypePrimitive, ber.Tag(TagAbandonRequest), o.MessageID, "AbandonRequest"), true
	case *ExtendedRequest:
		p := app(TagExtendedRequest, true)
		p.AppendChild(octetsPacket(ber.ClassContext, 0, []byte(o.Name)))
		if o.HasValue || o.Value != nil {
			p.AppendChild(octetsPacket(ber.ClassContext, 1, o.Value))
		}
		return p, true
	}
	return nil, false
}
