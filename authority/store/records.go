package store

import (
	"time"
)

// State is a user's lifecycle state.
type State string

// The lifecycle states of a user.
const (
	StateStaged    State = "staged"
	StateActive    State = "active"
	StateSuspended State = "suspended"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	return s == StateStaged || s == StateActive || s == StateSuspended
}

// Name is a person's name in its parts.
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// Email is one email address of a user.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Phone is one phone number of a user.
type Phone struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Enterprise holds the fields of SCIM's enterprise user extension.
type Enterprise struct {
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	CostCenter     string `json:"costCenter,omitempty"`
	Organization   string `json:"organization,omitempty"`
	Division       string `json:"division,omitempty"`
	Department     string `json:"department,omitempty"`
	// Manager is the id of another user.
	Manager string `json:"manager,omitempty"`
}

// Password is a stored password verifier: never the cleartext.
type Password struct {
	Hash       string    `json:"hash"`
	ChangedAt  time.Time `json:"changedAt"`
	MustChange bool      `json:"mustChange,omitempty"`
}

// TOTP is an enrolled RFC 6238 authenticator. Secret is sealed with the
// keyring (AAD: the user's id), never stored in the clear.
type TOTP struct {
	Secret   string    `json:"secret"`
	Enrolled time.Time `json:"enrolled"`
}

// User is a person. Version is the etcd ModRevision of the record and is
// not part of the stored JSON.
type User struct {
	ID           string  `json:"id"`
	UserName     string  `json:"userName"`
	ExternalID   string  `json:"externalId,omitempty"`
	Name         Name    `json:"name"`
	DisplayName  string  `json:"displayName,omitempty"`
	Emails       []Email `json:"emails,omitempty"`
	PhoneNumbers []Phone `json:"phoneNumbers,omitempty"`
	Title        string  `json:"title,omitempty"`
	NickName     string  `json:"nickName,omitempty"`
	UserType     string  `json:"userType,omitempty"`
	// PreferredLanguage, Locale and Timezone are as SCIM defines them
	// (RFC 7643 §4.1.1); Headwater stores them for other readers.
	PreferredLanguage string     `json:"preferredLanguage,omitempty"`
	Locale            string     `json:"locale,omitempty"`
	Timezone          string     `json:"timezone,omitempty"`
	Enterprise        Enterprise `json:"enterprise"`
	State             State      `json:"state"`
	Roles             []string   `json:"roles,omitempty"`
	UIDNumber         int64      `json:"uidNumber"`
	GIDNumber         int64      `json:"gidNumber"`
	HomeDirectory     string     `json:"homeDirectory,omitempty"`
	LoginShell        string     `json:"loginShell,omitempty"`
	Password          *Password  `json:"password,omitempty"`
	// TOTP is the user's enrolled authenticator, if any.
	TOTP     *TOTP     `json:"totp,omitempty"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	Version  int64     `json:"-"`
}

// PrimaryEmail returns the primary email, or the first one when none is
// marked primary.
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// HasRole reports whether the user holds role.
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so that callers never share memory with the
// index.
func (u *User) Clone() *User {
	c := *u
	c.Emails = append([]Email(nil), u.Emails...)
	c.PhoneNumbers = append([]Phone(nil), u.PhoneNumbers...)
	c.Roles = append([]string(nil), u.Roles...)
	if u.Password != nil {
		p := *u.Password
		c.Password = &p
	}
	if u.TOTP != nil {
		t := *u.TOTP
		c.TOTP = &t
	}
	return &c
}

// Group is a named set of users. Its members are stored one key per member,
// so a group's record stays small whatever its size.
type Group struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	ExternalID  string    `json:"externalId,omitempty"`
	Description string    `json:"description,omitempty"`
	GIDNumber   int64     `json:"gidNumber"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
	Version     int64     `json:"-"`
}

// Clone returns a copy.
func (g *Group) Clone() *Group {
	c := *g
	return &c
}

// ServiceAccount is a non-person account that applications bind with over
// LDAP.
type ServiceAccount struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Roles       []string  `json:"roles,omitempty"`
	Password    *Password `json:"password,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
	Version     int64     `json:"-"`
}

// HasRole reports whether the account holds role.
func (s *ServiceAccount) HasRole(role string) bool {
	for _, r := range s.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (s *ServiceAccount) Clone() *ServiceAccount {
	c := *s
	c.Roles = append([]string(nil), s.Roles...)
	if s.Password != nil {
		p := *s.Password
		c.Password = &p
	}
	return &c
}

// Token is an API bearer token. Only a SHA-256 digest of the secret is
// stored; the secret is shown once, at creation.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Digest    string     `json:"digest"`
	Scopes    []string   `json:"scopes"`
	CreatedBy string     `json:"createdBy,omitempty"`
	Created   time.Time  `json:"created"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Version   int64      `json:"-"`
}

// HasScope reports whether the token carries scope.
func (t *Token) HasScope(scope string) bool {
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Clone returns a deep copy.
func (t *Token) Clone() *Token {
	c := *t
	c.Scopes = append([]string(nil), t.Scopes...)
	return &c
}

// Binding ties a user to a directory (a target such as AD or Microsoft
// 365). The connector framework extends it; the core only needs to know
// which directories a user's password must reach.
type Binding struct {
	UserID    string `json:"userId"`
	Directory string `json:"directory"`
	Mode      string `json:"mode,omitempty"`
	// NeedsPassword is set while the directory has not received a
	// cleartext password for the user: the next successful login anywhere
	// queues it ("password takeover").
	NeedsPassword bool `json:"needsPassword,omitempty"`
	// ExternalID is the target's id of the account, once known.
	ExternalID string `json:"externalId,omitempty"`
	// Source is "direct" (an administrator or import bound the user) or
	// "group" (the directory binds the members of some groups).
	Source string `json:"source,omitempty"`
	// Unbound marks a binding being undone: the worker disables the
	// account in the target, then removes the binding.
	Unbound bool `json:"unbound,omitempty"`
	// Status is what the worker last found: pending, in_sync, mismatch
	// (Mismatch names the attributes), error (Detail has the target's
	// words).
	Status   string    `json:"status,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Mismatch []string  `json:"mismatch,omitempty"`
	LastSync time.Time `json:"lastSync,omitzero"`
	// PasswordPushed is when Headwater last set the account's password in
	// the target: a later password change there was made by someone else.
	PasswordPushed time.Time `json:"passwordPushed,omitzero"`
	Created        time.Time `json:"created"`
	Version        int64     `json:"-"`
}

// OutboxEntry carries a change that a directory still has to receive. For
// a password it holds the cleartext sealed with the keyring (never
// unsealed in etcd). There is at most one password entry per user and
// directory: a newer password replaces an older undelivered one, so an old
// password can never overwrite a new one downstream.
type OutboxEntry struct {
	Directory string    `json:"directory"`
	UserID    string    `json:"userId"`
	Kind      string    `json:"kind"`
	Sealed    string    `json:"sealed"`
	Created   time.Time `json:"created"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	// NextAttempt delays a retry; Dead parks an entry that failed for good
	// (or too often) until an administrator retries or dismisses it.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	Dead        bool      `json:"dead,omitempty"`
	Version     int64     `json:"-"`
}

// OutboxPassword is the kind of an outbox entry carrying a sealed password.
const OutboxPassword = "password"

// OutboxSync is the kind of an outbox entry asking the directory's worker
// to reconcile the user (attributes, state, binding or deletion).
const OutboxSync = "sync"

// AuditEvent records one change: who, what, when, from where. Details never
// hold secrets.
type AuditEvent struct {
	ID         string            `json:"id"`
	Time       time.Time         `json:"time"`
	Actor      string            `json:"actor"`
	Source     string            `json:"source,omitempty"`
	Action     string            `json:"action"`
	TargetKind string            `json:"targetKind,omitempty"`
	TargetID   string            `json:"targetId,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}
