package store

import (
	"errors"
	"fmt"
)

// Sentinel errors; the typed errors below match them with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrPrecondition = errors.New("version mismatch")
	// ErrUnavailable means etcd could not be reached or refused the write
	// (for example when its space quota is exhausted). Nothing was written.
	ErrUnavailable = errors.New("store unavailable")
	// ErrNotReady means the in-memory index has not finished loading.
	ErrNotReady = errors.New("store index not loaded yet")
)

// NotFoundError says which record does not exist.
type NotFoundError struct {
	Kind string // "user", "group", ...
	Key  string // the id or name looked up
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Key) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError says which unique field already holds the value.
type ConflictError struct {
	Kind  string // "user", "group", ...
	Field string // "userName", "email", "externalId", "uidNumber", ...
	Value string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("a %s with %s %q already exists", e.Kind, e.Field, e.Value)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// PreconditionError says that the record changed since the version the
// caller based its change on.
type PreconditionError struct {
	Kind    string
	ID      string
	Want    int64
	Current int64
}

func (e *PreconditionError) Error() string {
	return fmt.Sprintf("%s %q is at version %d, not %d: it was changed by someone else; read it again", e.Kind, e.ID, e.Current, e.Want)
}

// Is makes errors.Is(err, ErrPrecondition) true.
func (e *PreconditionError) Is(target error) bool { return target == ErrPrecondition }
