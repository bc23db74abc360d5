package authority

import (
	"errors"
	"fmt"
	"time"

	"github.com/headwater/headwater/authority/password"
	"github.com/headwater/headwater/authority/store"
)

// The errors front ends map onto their protocols. Match them with
// errors.Is (the sentinels) or errors.As (the types, for details).
var (
	ErrNotFound     = store.ErrNotFound
	ErrConflict     = store.ErrConflict
	ErrPrecondition = store.ErrPrecondition
	ErrUnavailable  = store.ErrUnavailable
	ErrNotReady     = store.ErrNotReady
	ErrInvalid      = errors.New("invalid")
	// ErrInvalidCredentials is the one answer to a failed password check,
	// whatever failed: unknown account, wrong password, disabled account.
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrForbidden          = errors.New("forbidden")
)

// Typed errors carrying details.
type (
	NotFoundError     = store.NotFoundError
	ConflictError     = store.ConflictError
	PreconditionError = store.PreconditionError
	PolicyError       = password.PolicyError
)

// InvalidError says which field is wrong and why, in the caller's terms.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ThrottledError is returned instead of checking a password while the
// account or the source address is backing off after failures. Front ends
// answer it like ErrInvalidCredentials (so it reveals nothing), adding a
// Retry-After where their protocol has one.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed attempts: try again in %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrInvalidCredentials) true, so callers that do
// not care about throttling treat it as a failed login.
func (e *ThrottledError) Is(target error) bool { return target == ErrInvalidCredentials }
