// Package wire reads and writes LDAPv3 protocol messages (RFC 4511) for the
// LDAP front end, turning untrusted bytes into typed operations under hard
// size, element and depth caps, and typed responses back into bytes.
//
// It is built on github.com/go-asn1-ber/asn1-ber and go-ldap's filter and
// control codecs rather than on a server framework, because the framework we
// tried (gldap) drops operations it does not know, cannot decode extended
// request values and has no size cap; see issue 4.
//
// Error contract of ReadMessage, which the connection loop relies on:
//   - io.EOF: the peer closed cleanly between messages.
//   - an error matching io.ErrUnexpectedEOF: the peer closed mid-message.
//   - *LimitError matching ErrTooLarge: the declared PDU length exceeds the
//     cap; the body was not read, so the stream is out of step and the
//     connection must be closed (after a Notice of Disconnection).
//   - *ProtocolError: the PDU was malformed or exceeded a structural cap.
//     When HasMessageID is set the whole PDU was consumed and the server may
//     answer that message ID (OpTag says which response type) and go on;
//     otherwise it must disconnect.
//   - anything else is an I/O error from the underlying reader.
package wire
