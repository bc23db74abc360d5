package wire

// A direct encoder for the responses a busy server sends most: search
// entries and results without controls. It writes the same bytes as the
// ber.Packet path (TestAppendMatchesPacket holds it to that) without
// building a tree of packets per element, which is most of the cost of
// answering a small search.

// appendFast appends m's encoding to dst when m is one of the shapes this
// encoder knows; ok is false otherwise and dst is returned unchanged.
func appendFast(dst []byte, m *Message) (out []byte, ok bool) {
	if len(m.Controls) > 0 || m.ID < 0 || m.ID > maxMessageID {
		return dst, false
	}
	var tag OpTag
	var r *Result
	switch o := m.Op.(type) {
	case *SearchResultEntry:
		return appendEntry(dst, m.ID, o), true
	case *SearchResultDone:
		tag, r = TagSearchResultDone, &o.Result
	case *BindResponse:
		if o.HasServerSASLCreds || o.ServerSASLCreds != nil {
			return dst, false
		}
		tag, r = TagBindResponse, &o.Result
	case *CompareResponse:
		tag, r = TagCompareResponse, &o.Result
	case *ModifyResponse:
		tag, r = TagModifyResponse, &o.Result
	case *AddResponse:
		tag, r = TagAddResponse, &o.Result
	case *DeleteResponse:
		tag, r = TagDelResponse, &o.Result
	case *ModifyDNResponse:
		tag, r = TagModifyDNResponse, &o.Result
	default:
		return dst, false
	}
	if len(r.Referral) > 0 {
		return dst, false
	}
	code := intLen(int64(r.Code))
	body := tlvLen(code) + tlvLen(len(r.MatchedDN)) + tlvLen(len(r.DiagnosticMessage))
	id := intLen(m.ID)
	dst = appendHeader(dst, 0x30, tlvLen(id)+tlvLen(body))
	dst = appendInt(dst, 0x02, m.ID, id)
	dst = appendHeader(dst, 0x60|byte(tag), body) // APPLICATION, constructed
	dst = appendInt(dst, 0x0a, int64(r.Code), code)
	dst = appendOctets(dst, r.MatchedDN)
	return appendOctets(dst, r.DiagnosticMessage), true
}

func appendEntry(dst []byte, msgID int64, e *SearchResultEntry) []byte {
	attrs := 0
	for _, a := range e.Attributes {
		attrs += tlvLen(attrLen(a))
	}
	body := tlvLen(len(e.DN)) + tlvLen(attrs)
	id := intLen(msgID)
	dst = appendHeader(dst, 0x30, tlvLen(id)+tlvLen(body))
	dst = appendInt(dst, 0x02, msgID, id)
	dst = appendHeader(dst, 0x60|byte(TagSearchResultEntry), body)
	dst = appendOctets(dst, e.DN)
	dst = appendHeader(dst, 0x30, attrs)
	for _, a := range e.Attributes {
		dst = appendHeader(dst, 0x30, attrLen(a))
		dst = appendOctets(dst, a.Type)
		dst = appendHeader(dst, 0x31, valsLen(a))
		for _, v := range a.Values {
			dst = appendOctets(dst, v)
		}
	}
	return dst
}

// attrLen is the content length of a PartialAttribute SEQUENCE.
func attrLen(a Attribute) int { return tlvLen(len(a.Type)) + tlvLen(valsLen(a)) }

func valsLen(a Attribute) int {
	n := 0
	for _, v := range a.Values {
		n += tlvLen(len(v))
	}
	return n
}

// tlvLen is the size of an element with one identifier octet and n octets
// of content.
func tlvLen(n int) int { return 1 + lenLen(n) + n }

// lenLen is the size of a definite length field for n.
func lenLen(n int) int {
	if n < 0x80 {
		return 1
	}
	k := 1
	for v := n >> 8; v > 0; v >>= 8 {
		k++
	}
	return 1 + k
}

func appendHeader(dst []byte, id byte, n int) []byte {
	dst = append(dst, id)
	if n < 0x80 {
		return append(dst, byte(n))
	}
	k := lenLen(n) - 1
	dst = append(dst, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

func appendOctets(dst []byte, s string) []byte {
	return append(appendHeader(dst, 0x04, len(s)), s...)
}

// intLen is the size of v's minimal two's-complement encoding.
func intLen(v int64) int {
	n := 1
	for v > 127 || v < -128 {
		n++
		v >>= 8
	}
	return n
}

func appendInt(dst []byte, id byte, v int64, n int) []byte {
	dst = append(dst, id, byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}
