// Package connectors delivers changes made in Headwater to the directories
// that keep their own copy of users (Microsoft 365, Active Directory, local
// machine accounts), imports their existing accounts, and reports where
// they differ.
//
// The framework here knows nothing of any target: a kind of directory is a
// Connector, registered by its package (connectors/m365, ...) and driven by
// one worker per directory. Workers read the outbox that authority writes
// in the same transaction as each change, so a change is never lost between
// Headwater and the target: an entry is deleted only after the target
// accepted it, and only if no newer entry replaced it meanwhile.
package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/headwater/headwater/authority"
)

// Account is a user account as a target holds it.
type Account struct {
	// ID is the target's own identifier (Graph object id, AD objectGUID,
	// local user name), stable across renames. A connector serving several
	// tenants or domains makes it unique across them.
	ID string `json:"id"`
	// Login is the name people sign in with: userPrincipalName,
	// sAMAccountName, local user name.
	Login       string `json:"login"`
	Email       string `json:"email,omitempty"`
	GivenName   string `json:"givenName,omitempty"`
	FamilyName  string `json:"familyName,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Enabled     bool   `json:"enabled"`
	// PasswordChanged is when the target last saw a password change, when
	// it says (AD's pwdLastSet); zero otherwise.
	PasswordChanged time.Time `json:"passwordChanged,omitzero"`
	// Deleted marks an account a change feed reports as removed.
	Deleted bool `json:"deleted,omitempty"`
}

// Desired is the account Headwater wants a bound user to have, computed
// from the user and the directory's mapping.
type Desired struct {
	UserID      string // the Headwater user's id
	Login       string
	Email       string
	GivenName   string
	FamilyName  string
	DisplayName string
	Enabled     bool
}

// Patch changes some attributes of an account; nil fields stay.
type Patch struct {
	Login       *string
	Email       *string
	GivenName   *string
	FamilyName  *string
	DisplayName *string
	Enabled     *bool
}

// Empty reports whether the patch changes nothing.
func (p Patch) Empty() bool {
	return p.Login == nil && p.Email == nil && p.GivenName == nil && p.FamilyName == nil && p.DisplayName == nil && p.Enabled == nil
}

// Connector is one configured target. Implementations must be safe for
// concurrent use and make every operation idempotent: the framework
// delivers at least once, so an operation may be repeated after a crash.
type Connector interface {
	// Test checks credentials and reachability; its error says in plain
	// words what is wrong (wrong secret, unknown tenant, no route, ...).
	Test(ctx context.Context) error
	// Check says why d cannot be provisioned here (a domain the target
	// does not own, a login too long), as a *Error of kind KindRejected;
	// nil when it can.
	Check(ctx context.Context, d Desired) error
	// Get reads an account by ID; ErrNotFound when it does not exist.
	Get(ctx context.Context, id string) (*Account, error)
	// Find looks an account up by login, then by email (case-insensitive);
	// ErrNotFound when neither matches.
	Find(ctx context.Context, login, email string) (*Account, error)
	// Create makes the account with an initial password (never empty: the
	// framework generates one when the user's is not known yet).
	Create(ctx context.Context, d Desired, password string) (*Account, error)
	// Update applies p to the account.
	Update(ctx context.Context, id string, p Patch) error
	// SetPassword replaces the account's password.
	SetPassword(ctx context.Context, id, password string) error
	// Delete removes the account (only when the directory is configured to
	// delete; otherwise the framework disables).
	Delete(ctx context.Context, id string) error
	// List calls fn for every account in the directory's scope.
	List(ctx context.Context, fn func(Account) error) error
	// Changes returns the accounts changed since cursor (empty: start a
	// feed and return only its cursor) and the next cursor. Targets without
	// a change feed return ErrNoChangeFeed.
	Changes(ctx context.Context, cursor string) ([]Account, string, error)
	// Close releases connections.
	Close() error
}

// Sentinel errors.
var (
	ErrNotFound     = errors.New("account not found in the target")
	ErrNoChangeFeed = errors.New("the target has no change feed")
)

// ErrorKind classifies a target's failure, which decides what the worker
// does next.
type ErrorKind int

const (
	// KindTransient: try again with backoff (timeouts, 5xx).
	KindTransient ErrorKind = iota
	// KindThrottled: the target asked to wait RetryAfter (429, 503).
	KindThrottled
	// KindRejected: the target refused this change and will refuse it
	// again (password policy, duplicate, a domain it does not own). The
	// entry goes to the dead-letter state at once, with the target's words.
	KindRejected
	// KindAuth: the directory's credentials are wrong or lack rights;
	// nothing will work until an administrator fixes them.
	KindAuth
	// KindUnreachable: no connection to the target.
	KindUnreachable
)

func (k ErrorKind) String() string {
	switch k {
	case KindThrottled:
		return "throttled"
	case KindRejected:
		return "rejected"
	case KindAuth:
		return "credentials"
	case KindUnreachable:
		return "unreachable"
	}
	return "transient"
}

// Error is a classified failure of a target. Message is in the target's
// own words (an administrator reads it on the binding's status).
type Error struct {
	Kind       ErrorKind
	Message    string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Rejected, Throttled, AuthFailed, Unreachable and Transient build Errors.
func Rejected(msg string, err error) error { return &Error{Kind: KindRejected, Message: msg, Err: err} }

func Throttled(after time.Duration, msg string, err error) error {
	return &Error{Kind: KindThrottled, RetryAfter: after, Message: msg, Err: err}
}

func AuthFailed(msg string, err error) error { return &Error{Kind: KindAuth, Message: msg, Err: err} }

func Unreachable(msg string, err error) error {
	return &Error{Kind: KindUnreachable, Message: msg, Err: err}
}

func Transient(msg string, err error) error {
	return &Error{Kind: KindTransient, Message: msg, Err: err}
}

// KindOf classifies err; unclassified errors are transient.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransient
}

// Config is what a connector is built from.
type Config struct {
	// Directory is the directory's name in Headwater.
	Directory string
	// Settings are the kind's own settings (JSON, validated by the kind).
	Settings json.RawMessage
	// Secrets are the directory's credentials, unsealed.
	Secrets map[string]string
	Logger  *slog.Logger
	// HTTPClient, when set, is used for the target's HTTP APIs (tests use
	// it to trust an emulator's CA).
	HTTPClient *http.Client
	// Auth is Headwater itself, for kinds whose target talks to Headwater
	// rather than the other way round (the agents of local accounts keep
	// their job queue in Headwater's store).
	Auth *authority.Authority
}

// Kind describes one kind of directory.
type Kind struct {
	Name        string
	Description string
	// New builds a connector; it may not contact the target (Test does).
	New func(ctx context.Context, cfg Config) (Connector, error)
	// Validate checks settings and secrets before they are stored, with
	// errors that name the setting.
	Validate func(settings json.RawMessage, secrets map[string]string) error
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register makes a kind available; packages call it from init.
func Register(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k.Name]; dup {
		panic("connectors: kind " + k.Name + " registered twice")
	}
	kinds[k.Name] = k
}

// Lookup returns a registered kind.
func Lookup(name string) (Kind, error) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	if !ok {
		return Kind{}, fmt.Errorf("unknown directory kind %q (known: %v)", name, kindNames())
	}
	return k, nil
}

// Kinds lists the registered kinds by name.
func Kinds() []Kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func kindNames() []string {
	var n []string
	for k := range kinds {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
