// Package scimerr is the SCIM error (RFC 7644 §3.12): an HTTP status, a
// scimType and a detail in words the client's operator can act on. Every
// SCIM package returns these; the server writes them as the error schema.
package scimerr

import (
	"fmt"
	"net/http"
)

// The scimType values of RFC 7644 Table 9.
const (
	InvalidFilter = "invalidFilter"
	TooMany       = "tooMany"
	Uniqueness    = "uniqueness"
	Mutability    = "mutability"
	InvalidSyntax = "invalidSyntax"
	InvalidPath   = "invalidPath"
	NoTarget      = "noTarget"
	InvalidValue  = "invalidValue"
	InvalidVers   = "invalidVers"
	Sensitive     = "sensitive"
)

// Error is a SCIM error.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("%s: %s", e.ScimType, e.Detail)
	}
	return e.Detail
}

// New returns an error with a status and scimType.
func New(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 with scimType.
func BadRequest(scimType, format string, args ...any) *Error {
	return New(http.StatusBadRequest, scimType, format, args...)
}
