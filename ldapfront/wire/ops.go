package wire

import (
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Message is one LDAPMessage. Op holds a pointer to one of the request or
// response types of this package, or UnknownOp.
type Message struct {
	ID       int64
	Op       any
	Controls []Control
}

// Attribute is an attribute description with its values. Values are Go
// strings holding raw octets, so binary values survive unchanged.
type Attribute struct {
	Type   string
	Values []string
}

// BindRequest (RFC 4511 section 4.2). Its String and LogValue never show
// Password or SASLCredentials.
type BindRequest struct {
	Version int
	Name    string
	// AuthChoice is the context tag of the authentication choice: 0 simple,
	// 3 SASL. Others (the retired Kerberos choices) decode with no
	// credentials so the server can answer authMethodNotSupported.
	AuthChoice         int
	Simple             bool
	Password           []byte
	SASLMechanism      string
	SASLCredentials    []byte
	HasSASLCredentials bool
}

// UnbindRequest (RFC 4511 section 4.3).
type UnbindRequest struct{}

// SearchScope is the scope of a SearchRequest.
type SearchScope int

// Search scopes.
const (
	ScopeBaseObject   SearchScope = 0
	ScopeSingleLevel  SearchScope = 1
	ScopeWholeSubtree SearchScope = 2
)

// DerefAliases is the alias dereferencing policy of a SearchRequest.
type DerefAliases int

// Alias dereferencing policies.
const (
	NeverDerefAliases   DerefAliases = 0
	DerefInSearching    DerefAliases = 1
	DerefFindingBaseObj DerefAliases = 2
	DerefAlways         DerefAliases = 3
)

// SearchRequest (RFC 4511 section 4.5.1). Filter is the validated filter
// tree; FilterText renders it in RFC 4515 form when someone needs to read
// it (logs), so a search does not pay for it.
type SearchRequest struct {
	BaseDN       string
	Scope        SearchScope
	DerefAliases DerefAliases
	SizeLimit    int64
	TimeLimit    int64
	TypesOnly    bool
	Filter       *ber.Packet
	Attributes   []string
}

// FilterText is the filter in RFC 4515 string form, from go-ldap's
// ldap.DecompileFilter; a filter it cannot render reads "(?)".
func (s *SearchRequest) FilterText() string {
	if s.Filter == nil {
		return ""
	}
	f, err := ldap.DecompileFilter(s.Filter)
	if err != nil {
		return "(?)"
	}
	return f
}

// ModifyOperation is the operation of one Change.
type ModifyOperation int

// Modify operations; increment is RFC 4525.
const (
	ModifyAdd       ModifyOperation = 0
	ModifyDelete    ModifyOperation = 1
	ModifyReplace   ModifyOperation = 2
	ModifyIncrement ModifyOperation = 3
)

// Change is one modification of a ModifyRequest.
type Change struct {
	Operation    ModifyOperation
	Modification Attribute
}

// ModifyRequest (RFC 4511 section 4.6).
type ModifyRequest struct {
	Object  string
	Changes []Change
}

// AddRequest (RFC 4511 section 4.7).
type AddRequest struct {
	Entry      string
	Attributes []Attribute
}

// DeleteRequest (RFC 4511 section 4.8).
type DeleteRequest struct {
	DN string
}

// ModifyDNRequest (RFC 4511 section 4.9).
type ModifyDNRequest struct {
	Entry          string
	NewRDN         string
	DeleteOldRDN   bool
	NewSuperior    string
	HasNewSuperior bool
}

// CompareRequest (RFC 4511 section 4.10).
type CompareRequest struct {
	DN        string
	Attribute string
	Value     string
}

// AbandonRequest (RFC 4511 section 4.11).
type AbandonRequest struct {
	MessageID int64
}

// ExtendedRequest (RFC 4511 section 4.12). Value holds the raw requestValue
// octets; HasValue tells an absent value from an empty one. Its String and
// LogValue show only the value's length, because Password Modify carries
// passwords in it.
type ExtendedRequest struct {
	Name     string
	Value    []byte
	HasValue bool
}

// UnknownOp is a protocolOp whose APPLICATION tag this package does not
// decode as a request (including responses sent by a confused client). It
// is not an error so the server can answer instead of dropping the
// connection.
type UnknownOp struct {
	Tag OpTag
}

// Result is the LDAPResult carried by most responses.
type Result struct {
	Code              ResultCode
	MatchedDN         string
	DiagnosticMessage string
	Referral          []string // URIs; sent only when Code is ResultReferral or non-empty
}

// BindResponse (RFC 4511 section 4.2.2).
type BindResponse struct {
	Result
	ServerSASLCreds    []byte
	HasServerSASLCreds bool
}

// SearchResultEntry (RFC 4511 section 4.5.2).
type SearchResultEntry struct {
	DN         string
	Attributes []Attribute
}

// SearchResultReference (RFC 4511 section 4.5.3).
type SearchResultReference struct {
	URIs []string
}

// SearchResultDone (RFC 4511 section 4.5.2).
type SearchResultDone struct{ Result }

// ModifyResponse (RFC 4511 section 4.6).
type ModifyResponse struct{ Result }

// AddResponse (RFC 4511 section 4.7).
type AddResponse struct{ Result }

// DeleteResponse (RFC 4511 section 4.8).
type DeleteResponse struct{ Result }

// ModifyDNResponse (RFC 4511 section 4.9).
type ModifyDNResponse struct{ Result }

// CompareResponse (RFC 4511 section 4.10); Code is compareTrue/compareFalse
// on success.
type CompareResponse struct{ Result }

// ExtendedResponse (RFC 4511 section 4.12). Name and Value are each
// optional: WhoAmI sends a value and no name, a Notice of Disconnection a
// name and no value.
type ExtendedResponse struct {
	Result
	Name     string
	Value    []byte
	HasValue bool
}
