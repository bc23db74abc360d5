package wire

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// PasswordModifyRequest is the PasswdModifyRequestValue of RFC 3062. Every
// field is optional: no identity means the bound user, no new password asks
// the server to generate one. A nil password slice means absent. Its String
// and LogValue never show the passwords.
type PasswordModifyRequest struct {
	UserIdentity    string
	HasUserIdentity bool
	OldPassword     []byte
	NewPassword     []byte
}

// ParsePasswordModifyRequest decodes the value of a Password Modify
// extended request. An absent value is legal and means every field is
// absent.
func ParsePasswordModifyRequest(req *ExtendedRequest) (PasswordModifyRequest, error) {
	var pm PasswordModifyRequest
	if req.Name != OIDPasswordModify {
		return pm, fmt.Errorf("extended request %s is not Password Modify", req.Name)
	}
	if !req.HasValue && req.Value == nil {
		return pm, nil
	}
	p, err := decodeValue(req.Value)
	if err != nil {
		return pm, fmt.Errorf("password modify request value: %w", err)
	}
	if err := want(p, ber.ClassUniversal, true, ber.TagSequence, "PasswdModifyRequestValue"); err != nil {
		return pm, err
	}
	if err := count(p, 0, 3, "PasswdModifyRequestValue"); err != nil {
		return pm, err
	}
	next := ber.Tag(0)
	for _, c := range p.Children {
		// Fields are [0], [1], [2] in order, each at most once.
		if c.ClassType != ber.ClassContext || c.Tag < next || c.Tag > 2 {
			return pm, errors.New("PasswdModifyRequestValue: unexpected element")
		}
		next = c.Tag + 1
		v, err := octets(c, ber.ClassContext, c.Tag, "PasswdModifyRequestValue field")
		if err != nil {
			return pm, err
		}
		switch c.Tag {
		case 0:
			pm.UserIdentity, pm.HasUserIdentity = string(v), true
		case 1:
			pm.OldPassword = v
		case 2:
			pm.NewPassword = v
		}
	}
	return pm, nil
}

// Value encodes pm as a PasswdModifyRequestValue, for clients and tests.
func (pm PasswordModifyRequest) Value() []byte {
	p := ber.NewSequence("PasswdModifyRequestValue")
	if pm.HasUserIdentity {
		p.AppendChild(octetsPacket(ber.ClassContext, 0, []byte(pm.UserIdentity)))
	}
	if pm.OldPassword != nil {
		p.AppendChild(octetsPacket(ber.ClassContext, 1, pm.OldPassword))
	}
	if pm.NewPassword != nil {
		p.AppendChild(octetsPacket(ber.ClassContext, 2, pm.NewPassword))
	}
	return p.Bytes()
}

// PasswordModifyResponseValue encodes the PasswdModifyResponseValue of RFC
// 3062 carrying a generated password; nil genPasswd gives an empty
// SEQUENCE. When no password was generated a server may instead omit the
// response value altogether.
func PasswordModifyResponseValue(genPasswd []byte) []byte {
	p := ber.NewSequence("PasswdModifyResponseValue")
	if genPasswd != nil {
		p.AppendChild(octetsPacket(ber.ClassContext, 0, genPasswd))
	}
	return p.Bytes()
}

// PasswordModifyResponse answers a Password Modify request. RFC 3062 gives
// the response no name; genPasswd is sent only when not nil.
func PasswordModifyResponse(r Result, genPasswd []byte) *ExtendedResponse {
	resp := &ExtendedResponse{Result: r}
	if genPasswd != nil {
		resp.Value, resp.HasValue = PasswordModifyResponseValue(genPasswd), true
	}
	return resp
}

// WhoAmIResponse answers a WhoAmI request (RFC 4532) with authzID ("dn:..."
// or "u:..."; empty for anonymous). The response has no name and always
// has a value, because clients print it.
func WhoAmIResponse(authzID string) *ExtendedResponse {
	return &ExtendedResponse{Value: []byte(authzID), HasValue: true}
}

// NoticeOfDisconnection is the unsolicited notification (RFC 4511 section
// 4.4.1) a server sends, with message ID 0, before closing a connection on
// its own initiative, e.g. after a protocol error or an oversized PDU.
func NoticeOfDisconnection(code ResultCode, diagnostic string) *Message {
	return &Message{ID: 0, Op: &ExtendedResponse{
		Result: Result{Code: code, DiagnosticMessage: diagnostic},
		Name:   OIDNoticeOfDisconnection,
	}}
}
