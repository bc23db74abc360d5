// Package driver changes local accounts on the machine the Headwater agent
// runs on: it sets passwords, locks and unlocks accounts, sets full names and
// lists what exists, using each operating system's own account tools.
//
// The Linux and macOS drivers run the system's tools through a Runner rather
// than editing account databases themselves, because those tools know about
// locking, PAM, password policy and caches that a file writer would miss; the
// Runner is also what lets tests see exactly what would be run. Passwords
// travel on a command's standard input, never in its arguments or
// environment, where any local user could read them from the process table.
package driver

import (
	"context"
	"errors"
)

// Account is a local account.
type Account struct {
	// Name is the login name.
	Name string
	// FullName is the human name (the first GECOS field on Linux, RealName
	// on macOS, the full name on Windows).
	FullName string
	// UID is the numeric user id; on Windows it is the account's RID.
	UID int
	// Locked reports that the account cannot log in with a password.
	Locked bool
	// System marks accounts that belong to the operating system or a
	// service rather than to a person, so callers can leave them alone.
	System bool
}

// Driver changes local accounts on this machine.
type Driver interface {
	// SetPassword sets name's password.
	SetPassword(ctx context.Context, name, password string) error
	// Disable locks name so it can no longer log in with a password.
	Disable(ctx context.Context, name string) error
	// Enable undoes Disable.
	Enable(ctx context.Context, name string) error
	// SetFullName sets name's human-readable name.
	SetFullName(ctx context.Context, name, full string) error
	// List returns the local accounts, with System marked.
	List(ctx context.Context) ([]Account, error)
	// Get returns one local account, or an error wrapping
	// ErrNoSuchAccount.
	Get(ctx context.Context, name string) (*Account, error)
}

var (
	// ErrNoSuchAccount reports that the named local account does not exist.
	ErrNoSuchAccount = errors.New("no such local account")
	// ErrInvalidInput reports a name, password or full name that the
	// platform's account tools cannot store faithfully; nothing was run.
	ErrInvalidInput = errors.New("invalid input")
	// ErrPasswordPolicy reports a password the machine's password policy
	// rejected; a different password may succeed.
	ErrPasswordPolicy = errors.New("password rejected by the machine's password policy")
	// ErrUnsupported reports an operating system with no driver.
	ErrUnsupported = errors.New("no local-account driver for this operating system")
)
