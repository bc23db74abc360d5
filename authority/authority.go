// Package authority holds Headwater's rules: what a valid user, group or
// password is, which states exist, who may authenticate, and what a change
// means for every bound directory. Front ends translate protocols into calls
// on it; only it touches the store.
package authority

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/headwater/headwater/authority/limiter"
	"github.com/headwater/headwater/authority/password"
	"github.com/headwater/headwater/authority/seal"
	"github.com/headwater/headwater/authority/store"
)

// Record types are the store's; front ends use them through these names.
type (
	User           = store.User
	Group          = store.Group
	ServiceAccount = store.ServiceAccount
	Token          = store.Token
	Binding        = store.Binding
	Email          = store.Email
	Phone          = store.Phone
	Name           = store.Name
	Enterprise     = store.Enterprise
	Password       = store.Password
	State          = store.State
	AuditEvent     = store.AuditEvent
	ListOptions    = store.ListOptions
	LookupField    = store.LookupField
)

// Re-exported constants so that front ends need not import the store.
const (
	StateStaged    = store.StateStaged
	StateActive    = store.StateActive
	StateSuspended = store.StateSuspended

	ByUserName    = store.ByUserName
	ByEmail       = store.ByEmail
	ByExternalID  = store.ByExternalID
	ByUIDNumber   = store.ByUIDNumber
	ByDisplayName = store.ByDisplayName
	ByGIDNumber   = store.ByGIDNumber
)

// Roles a user or service account can hold.
const (
	RoleAdmin      = "admin"
	RoleLDAPReader = "ldap-reader"
)

// Scopes an API token can carry.
const (
	ScopeAdmin = "admin"
	ScopeSCIM  = "scim"
)

// Config holds what an Authority needs. Store and Keyring are required.
type Config struct {
	Store   store.Store
	Keyring *seal.Keyring
	Hasher  password.Hasher
	Policy  password.Policy
	Limiter *limiter.Limiter
	// AdminToken, when set, is a bearer token with every scope that is
	// never stored (HEADWATER_ADMIN_TOKEN).
	AdminToken string
	Logger     *slog.Logger
	Now        func() time.Time
}

// Authority applies Headwater's rules on top of the store.
type Authority struct {
	store       store.Store
	keys        *seal.Keyring
	hasher      password.Hasher
	policy      password.Policy
	limit       *limiter.Limiter
	adminDigest string
	log         *slog.Logger
	now         func() time.Time

	dirMu  sync.Mutex
	dirAt  time.Time
	dirAll []string // directories that bind every user
}

// New returns an Authority. Zero Hasher, Policy and Limiter take their
// packages' defaults.
func New(cfg Config) *Authority {
	if cfg.Policy == (password.Policy{}) {
		cfg.Policy = password.DefaultPolicy()
	}
	if cfg.Limiter == nil {
		cfg.Limiter = limiter.New(limiter.DefaultConfig(), nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authority{
		store:  cfg.Store,
		keys:   cfg.Keyring,
		hasher: cfg.Hasher,
		policy: cfg.Policy,
		limit:  cfg.Limiter,
		log:    cfg.Logger,
		now:    cfg.Now,
	}
	if cfg.AdminToken != "" {
		a.adminDigest = tokenDigest(cfg.AdminToken)
	}
	return a
}

// Store exposes readiness and health for the server's probes.
func (a *Authority) Ready() bool { return a.store.Ready() }

// Health reports whether the store can take writes.
func (a *Authority) Health(ctx context.Context) error { return a.store.Health(ctx) }

// Policy returns the password policy, for front ends that describe it.
func (a *Authority) Policy() password.Policy { return a.policy }

// Actor is who makes a change and from where; it goes into the audit log.
type Actor struct {
	// Name is "user:<userName>", "token:<name>", "admin-token", "system", ...
	Name   string
	Source string
}

type actorKey struct{}

// WithActor returns a context carrying the actor of the calls made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the context's actor, or "system".
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Name: "system"}
}

func (a *Authority) audit(ctx context.Context, action, kind, id string, details map[string]string) *store.AuditEvent {
	act := ActorFrom(ctx)
	return &store.AuditEvent{
		Time:       a.now().UTC(),
		Actor:      act.Name,
		Source:     act.Source,
		Action:     action,
		TargetKind: kind,
		TargetID:   id,
		Details:    details,
	}
}

// Audit lists audit events, newest first.
func (a *Authority) Audit(ctx context.Context, before string, limit int) ([]AuditEvent, error) {
	return a.store.Audit(ctx, store.AuditQuery{Before: before, Limit: limit})
}
