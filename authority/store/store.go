// Package store keeps Headwater's records in etcd and serves reads from an
// in-memory index that a watch keeps current.
//
// The Store interface has one real implementation, Etcd, used with an
// embedded etcd or an external cluster; storetest holds the conformance
// suite every implementation must pass.
package store

import (
	"context"
	"time"
)

// Write lists what must be written in the same etcd transaction as a
// record change: the audit event describing it and, for a password change,
// one sealed outbox entry per bound directory. Either all of it commits or
// none of it does.
type Write struct {
	Audit  *AuditEvent
	Outbox []OutboxEntry
	// Bindings are created with the change (a new user bound to the
	// directories that take every user).
	Bindings []Binding
}

// UserUpdate is applied to a copy of the current user inside UpdateUser.
// It receives the user's bindings as they stood when the user was read; if
// a binding is added before the write commits, the update is retried with
// the new list, so a password change cannot miss a directory.
type UserUpdate func(u *User, bindings []Binding) (Write, error)

// LookupField names a unique attribute to look a record up by.
type LookupField int

// The unique attributes of users and groups.
const (
	ByUserName LookupField = iota + 1
	ByEmail
	ByExternalID
	ByUIDNumber
	ByDisplayName // groups
	ByGIDNumber   // groups
	ByName        // service accounts
)

// ListOptions pages through records in the order of their unique name
// (userName, displayName, name), compared case-insensitively.
type ListOptions struct {
	// After is a cursor: only records whose lowercased name sorts after it.
	After string
	// Offset skips that many records first (SCIM's startIndex - 1).
	Offset int
	// Limit caps the page; 0 means 100, and it never exceeds MaxPageSize.
	Limit int
}

// MaxPageSize bounds one page of any list.
const MaxPageSize = 1000

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// Next is the cursor for the following page; empty on the last page.
	Next string
	// Total counts every record of the list, not only this page.
	Total int
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	// Before, when non-empty, is the ID of an event: only older ones are returned.
	Before string
	Limit  int
}

// Store keeps users, groups, service accounts, tokens, bindings, the outbox
// and the audit log. Reads are served from memory and never scan; writes go
// to etcd in one transaction each, with uniqueness enforced by index keys.
//
// Records returned are copies the caller may change. Version is the etcd
// ModRevision; an ifVersion of 0 means "whatever the current version is".
type Store interface {
	CreateUser(ctx context.Context, u *User, w Write) (*User, error)
	// CreateUsers creates a batch in as few transactions as possible and
	// returns one error (or nil) per user, in order.
	CreateUsers(ctx context.Context, users []*User, ws []Write) ([]*User, []error)
	UpdateUser(ctx context.Context, id string, ifVersion int64, fn UserUpdate) (*User, error)
	DeleteUser(ctx context.Context, id string, ifVersion int64, w Write) error
	GetUser(ctx context.Context, id string) (*User, error)
	LookupUser(ctx context.Context, by LookupField, value string) (*User, error)
	ListUsers(ctx context.Context, opts ListOptions) (Page[*User], error)
	// EachUser calls fn for every user in name order after the cursor until
	// fn returns false. fn gets the index's own record: it must not modify
	// or keep it. It holds a read lock: fn must not call the store.
	EachUser(ctx context.Context, after string, fn func(*User) bool) error

	CreateGroup(ctx context.Context, g *Group, w Write) (*Group, error)
	UpdateGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) (Write, error)) (*Group, error)
	// ChangeGroup changes the record and up to MaxAtomicMembers members in
	// one transaction.
	ChangeGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) (Write, error), add, remove []string) (*Group, error)
	DeleteGroup(ctx context.Context, id string, ifVersion int64, w Write) error
	GetGroup(ctx context.Context, id string) (*Group, error)
	LookupGroup(ctx context.Context, by LookupField, value string) (*Group, error)
	ListGroups(ctx context.Context, opts ListOptions) (Page[*Group], error)
	// AddMembers and RemoveMembers write one key per member; they never
	// rewrite the group record. Adding a present member or removing an
	// absent one is not an error.
	AddMembers(ctx context.Context, groupID string, userIDs []string, w Write) error
	RemoveMembers(ctx context.Context, groupID string, userIDs []string, w Write) error
	// Members pages through member user ids in id order.
	Members(ctx context.Context, groupID string, opts ListOptions) (Page[string], error)
	IsMember(ctx context.Context, groupID, userID string) (bool, error)
	GroupsOf(ctx context.Context, userID string) ([]string, error)

	CreateServiceAccount(ctx context.Context, sa *ServiceAccount, w Write) (*ServiceAccount, error)
	UpdateServiceAccount(ctx context.Context, id string, ifVersion int64, fn func(*ServiceAccount) (Write, error)) (*ServiceAccount, error)
	DeleteServiceAccount(ctx context.Context, id string, w Write) error
	GetServiceAccount(ctx context.Context, id string) (*ServiceAccount, error)
	LookupServiceAccount(ctx context.Context, name string) (*ServiceAccount, error)
	ListServiceAccounts(ctx context.Context, opts ListOptions) (Page[*ServiceAccount], error)

	CreateToken(ctx context.Context, t *Token, w Write) (*Token, error)
	DeleteToken(ctx context.Context, id string, w Write) error
	GetToken(ctx context.Context, id string) (*Token, error)
	TokenByDigest(ctx context.Context, digest string) (*Token, error)
	ListTokens(ctx context.Context) ([]*Token, error)

	PutBinding(ctx context.Context, b *Binding, w Write) (*Binding, error)
	DeleteBinding(ctx context.Context, userID, directory string, w Write) error
	Bindings(ctx context.Context, userID string) ([]Binding, error)
	UpdateBinding(ctx context.Context, userID, directory string, fn func(*Binding) (Write, error)) (*Binding, error)
	PutBindings(ctx context.Context, bs []Binding, w Write) error
	SettleBinding(ctx context.Context, b Binding, delivered []OutboxEntry) error
	BindingsOf(ctx context.Context, directory string) ([]Binding, error)
	UpdateOutbox(ctx context.Context, e OutboxEntry) error
	WatchOutbox(ctx context.Context, directory string) <-chan struct{}
	Lock(ctx context.Context, name string, ttlSeconds int) (held context.Context, unlock func(), err error)

	// EnqueueOutbox queues entries for directories the user is still bound
	// to; an entry for a binding that no longer exists fails the whole call
	// with NotFoundError.
	EnqueueOutbox(ctx context.Context, entries []OutboxEntry, w Write) error
	// Outbox lists pending entries of one directory, oldest user first.
	Outbox(ctx context.Context, directory string, limit int) ([]OutboxEntry, error)
	// OutboxFor lists one user's pending entries for one directory.
	OutboxFor(ctx context.Context, directory, userID string) ([]OutboxEntry, error)
	// DeleteOutbox removes a delivered entry unless it was replaced since
	// (its version changed), so a newer password is never dropped.
	DeleteOutbox(ctx context.Context, e OutboxEntry) error

	PutObject(ctx context.Context, kind, key string, value []byte, ttl time.Duration) error
	CreateObject(ctx context.Context, kind, key string, value []byte, ttl time.Duration) error
	GetObject(ctx context.Context, kind, key string) (*Object, error)
	TakeObject(ctx context.Context, kind, key string) (*Object, error)
	DeleteObject(ctx context.Context, kind, key string) error
	DeleteObjects(ctx context.Context, kind, prefix string) (int64, error)
	ListObjects(ctx context.Context, kind, prefix string, limit int) ([]Object, error)

	AppendAudit(ctx context.Context, ev *AuditEvent) error
	Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// PruneAudit deletes events of the days before cutoff's day.
	PruneAudit(ctx context.Context, cutoff time.Time) (int64, error)

	// Ready reports whether the index is loaded; WaitReady blocks until it is.
	Ready() bool
	WaitReady(ctx context.Context) error
	// Health checks that etcd answers and has no alarm raised.
	Health(ctx context.Context) error
	// Counts returns how many users and groups the index holds.
	Counts() (users, groups int)
	Close() error
}
