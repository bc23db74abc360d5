package graphemu

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Errors returned by the test accessors.
var (
	ErrUnknownTenant = errors.New("graphemu: unknown tenant")
	ErrUserNotFound  = errors.New("graphemu: user not found")
	ErrInvalidUser   = errors.New("graphemu: user rejected")
)

// User is a snapshot of a directory user for test assertions.
type User struct {
	ID                            string
	UserPrincipalName             string
	DisplayName                   string
	GivenName                     string
	Surname                       string
	Mail                          string
	MailNickname                  string
	AccountEnabled                bool
	ForceChangePasswordNextSignIn bool
	// PasswordChanges counts password changes through PATCH since creation.
	PasswordChanges int
}

// NewUser describes a user created by a test (AddUser, TenantConfig.Users) rather than through
// the API. MailNickname defaults to the UPN's local part, DisplayName to the UPN.
type NewUser struct {
	UserPrincipalName string
	DisplayName       string
	GivenName         string
	Surname           string
	Mail              string
	MailNickname      string
	AccountEnabled    bool
	Password          string
}

// RequestRecord is one Graph request as the emulator saw it.
type RequestRecord struct {
	Method string
	// Path is the unescaped URL path, such as /v1.0/users/{id}.
	Path string
	// Query is the raw query string.
	Query  string
	Tenant string
	Status int
	// InBatch is true for a step of a $batch (the envelope is recorded too, with false).
	InBatch bool
}

func (u *user) snapshot() User {
	return User{
		ID:                            u.id(),
		UserPrincipalName:             u.upn(),
		DisplayName:                   u.str("displayName"),
		GivenName:                     u.str("givenName"),
		Surname:                       u.str("surname"),
		Mail:                          u.str("mail"),
		MailNickname:                  u.str("mailNickname"),
		AccountEnabled:                u.boolean("accountEnabled"),
		ForceChangePasswordNextSignIn: u.forceChange,
		PasswordChanges:               u.passwordChanges,
	}
}

// tenantLocked finds a configured tenant by id or domain. Caller holds e.mu.
func (e *Emulator) tenantLocked(id string) (*tenant, error) {
	t := e.resolveTenant(id)
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTenant, id)
	}
	return t, nil
}

// Users lists a tenant's users in paging order (by object id).
func (e *Emulator) Users(tenantID string) ([]User, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, t.users[id].snapshot())
	}
	return out, nil
}

// User finds a user by object id or userPrincipalName, ignoring the replication delay.
func (e *Emulator) User(tenantID, idOrUPN string) (User, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := e.userLocked(tenantID, idOrUPN)
	if err != nil {
		return User{}, err
	}
	return u.snapshot(), nil
}

func (e *Emulator) userLocked(tenantID, idOrUPN string) (*user, error) {
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return nil, err
	}
	u := t.lookup(idOrUPN)
	if u == nil {
		return nil, fmt.Errorf("%w: %q in tenant %q", ErrUserNotFound, idOrUPN, t.id)
	}
	return u, nil
}

// PasswordOf returns the password a user currently has: the one set at creation or by the
// last PATCH of passwordProfile.
func (e *Emulator) PasswordOf(tenantID, idOrUPN string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, err := e.userLocked(tenantID, idOrUPN)
	if err != nil {
		return "", err
	}
	return u.password, nil
}

// AddUser creates a user directly, as an administrator would in the portal: the UPN must be
// unique and on a verified domain, but the password policy is not applied and the user is
// visible at once (no replication delay). It shows up in delta like any new user.
func (e *Emulator) AddUser(tenantID string, nu NewUser) (User, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return User{}, err
	}
	u, ae := e.addUser(t, nu.input(), time.Time{}, false)
	if ae != nil {
		return User{}, fmt.Errorf("%w: %s", ErrInvalidUser, ae.message)
	}
	return u.snapshot(), nil
}

func (nu NewUser) input() *userInput {
	in := &userInput{props: map[string]any{}, hasPassword: true, password: nu.Password}
	if nu.Password == "" {
		in.password = "Seeded-" + randomToken(8)
	}
	local, _, _ := strings.Cut(nu.UserPrincipalName, "@")
	set := func(name, v, def string) {
		if v == "" {
			v = def
		}
		if v != "" {
			in.props[name] = v
		}
	}
	set("userPrincipalName", nu.UserPrincipalName, "")
	set("displayName", nu.DisplayName, nu.UserPrincipalName)
	set("givenName", nu.GivenName, "")
	set("surname", nu.Surname, "")
	set("mail", nu.Mail, "")
	set("mailNickname", nu.MailNickname, local)
	in.props["accountEnabled"] = nu.AccountEnabled
	return in
}

// SetAccountEnabled changes accountEnabled behind the API's back, as an administrator
// re-enabling a user in the portal would. The change appears in delta.
func (e *Emulator) SetAccountEnabled(tenantID, idOrUPN string, enabled bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	u := t.lookup(idOrUPN)
	if u == nil {
		return fmt.Errorf("%w: %q in tenant %q", ErrUserNotFound, idOrUPN, t.id)
	}
	t.set(u, "accountEnabled", enabled)
	return nil
}

// UpdateUser changes properties behind the API's back (Graph property names, JSON-typed
// values: string, bool, []string or nil), as an administrator editing in the portal would.
func (e *Emulator) UpdateUser(tenantID, idOrUPN string, props map[string]any) error {
	in := &userInput{props: map[string]any{}}
	for k, v := range props {
		p, ok := userPropsByLower[strings.ToLower(k)]
		if !ok || !p.writable {
			return fmt.Errorf("%w: property %q is not writable", ErrInvalidUser, k)
		}
		in.props[p.name] = v
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	if ae := e.applyPatch(t, idOrUPN, in, false); ae != nil {
		if ae.status == http.StatusNotFound {
			return fmt.Errorf("%w: %q in tenant %q", ErrUserNotFound, idOrUPN, t.id)
		}
		return fmt.Errorf("%w: %s", ErrInvalidUser, ae.message)
	}
	return nil
}

// DeleteUser deletes a user behind the API's back; delta reports it as removed.
func (e *Emulator) DeleteUser(tenantID, idOrUPN string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	u := t.lookup(idOrUPN)
	if u == nil {
		return fmt.Errorf("%w: %q in tenant %q", ErrUserNotFound, idOrUPN, t.id)
	}
	t.remove(u)
	return nil
}

// SetDomains replaces a tenant's domains. Existing users keep their UPNs.
func (e *Emulator) SetDomains(tenantID string, domains []Domain) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	t.domains = slices.Clone(domains)
	t.fixDefaultDomain()
	return nil
}

// ResyncDelta invalidates every delta and skip token of a tenant: the next request with one
// gets 410 Gone and a Location starting a full synchronization, as Graph does after tenant
// maintenance.
func (e *Emulator) ResyncDelta(tenantID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tenantLocked(tenantID)
	if err != nil {
		return err
	}
	t.deltaEpoch++
	return nil
}

// SetTokenLifetime changes the lifetime (and expires_in) of tokens issued from now on.
func (e *Emulator) SetTokenLifetime(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokenLifetime = max(d, 0)
}

// ExpireTokens makes every access token issued so far expired, so the next Graph request with
// one gets 401 and the client must fetch a new token.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	past := e.now().Add(-time.Second)
	for k, t := range e.tokens {
		t.expires = past
		e.tokens[k] = t
	}
}

// TokenRequests counts POSTs to a tenant's token endpoint (successful or not); an empty
// tenant id counts all tenants.
func (e *Emulator) TokenRequests(tenantID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tenantID == "" {
		n := 0
		for _, c := range e.tokenRequests {
			n += c
		}
		return n
	}
	if t := e.resolveTenant(tenantID); t != nil {
		return e.tokenRequests[t.id]
	}
	return 0
}

// RequestCount counts Graph requests (batch steps included) with this method and exact path,
// such as RequestCount("PATCH", "/v1.0/users/"+id).
func (e *Emulator) RequestCount(method, path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.requests {
		if strings.EqualFold(r.Method, method) && r.Path == path {
			n++
		}
	}
	return n
}

// Requests returns every Graph request recorded since start or Reset, in arrival order.
func (e *Emulator) Requests() []RequestRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// Reset returns the emulator to its configured state: configured users only, counters and
// tokens cleared, faults, latency and replication delay off, token lifetime as configured.
// The listener and certificates stay.
func (e *Emulator) Reset() error {
	e.ClearFaults()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resetLocked()
}

func (e *Emulator) resetState() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resetLocked()
}

func (e *Emulator) resetLocked() error {
	e.tenants = map[string]*tenant{}
	e.tokens = map[string]accessToken{}
	e.tokenRequests = map[string]int{}
	e.requests = nil
	e.deltaStates = map[string]*deltaState{}
	e.ecDelay = 0
	e.tokenLifetime = e.cfg.TokenLifetime
	if e.tokenLifetime == 0 {
		e.tokenLifetime = time.Hour
	}
	for _, tc := range e.cfg.Tenants {
		t := newTenant(tc)
		e.tenants[t.id] = t
		for _, nu := range tc.Users {
			if _, ae := e.addUser(t, nu.input(), time.Time{}, false); ae != nil {
				return fmt.Errorf("tenant %q: user %q: %w: %s", t.id, nu.UserPrincipalName, ErrInvalidUser, ae.message)
			}
		}
	}
	return nil
}

// record notes a finished Graph request for RequestCount and Requests.
func (e *Emulator) record(r *http.Request, rc *reqCtx, status int) {
	rec := RequestRecord{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, InBatch: rc.inBatch}
	if rc.tenant != nil {
		rec.Tenant = rc.tenant.id
	}
	e.log.Debug("graphemu: request", "method", rec.Method, "path", rec.Path, "tenant", rec.Tenant, "status", status, "in_batch", rc.inBatch)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests = append(e.requests, rec)
}
