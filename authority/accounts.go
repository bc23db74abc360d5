package authority

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/headwater/headwater/authority/store"
)

// CreateServiceAccount creates a non-person account for an application
// that binds over LDAP. The password must pass the policy.
func (a *Authority) CreateServiceAccount(ctx context.Context, name, pw, description string, roles []string) (*ServiceAccount, error) {
	if err := checkName("name", name, false); err != nil {
		return nil, err
	}
	if err := checkText("description", description); err != nil {
		return nil, err
	}
	roles, err := normalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	if err := a.policy.Check(pw, name); err != nil {
		return nil, err
	}
	h, err := a.hasher.Hash(pw)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	now := a.now().UTC()
	sa := &ServiceAccount{ID: uuid.NewString(), Name: name, Description: description, Roles: roles, Password: &store.Password{Hash: h, ChangedAt: now}, Created: now, Modified: now}
	return a.store.CreateServiceAccount(ctx, sa, store.Write{Audit: a.audit(ctx, "serviceaccount.create", "serviceaccount", sa.ID, map[string]string{"name": name})})
}

// SetServiceAccountPassword replaces a service account's password.
func (a *Authority) SetServiceAccountPassword(ctx context.Context, id, pw string) error {
	sa, err := a.store.GetServiceAccount(ctx, id)
	if err != nil {
		return err
	}
	if err := a.policy.Check(pw, sa.Name); err != nil {
		return err
	}
	h, err := a.hasher.Hash(pw)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	_, err = a.store.UpdateServiceAccount(ctx, id, 0, func(x *ServiceAccount) (store.Write, error) {
		x.Password = &store.Password{Hash: h, ChangedAt: a.now().UTC()}
		x.Modified = a.now().UTC()
		return store.Write{Audit: a.audit(ctx, "serviceaccount.password", "serviceaccount", id, nil)}, nil
	})
	return err
}

// DeleteServiceAccount removes a service account.
func (a *Authority) DeleteServiceAccount(ctx context.Context, id string) error {
	return a.store.DeleteServiceAccount(ctx, id, store.Write{Audit: a.audit(ctx, "serviceaccount.delete", "serviceaccount", id, nil)})
}

// GetServiceAccount returns a service account by id.
func (a *Authority) GetServiceAccount(ctx context.Context, id string) (*ServiceAccount, error) {
	return a.store.GetServiceAccount(ctx, id)
}

// LookupServiceAccount returns a service account by name.
func (a *Authority) LookupServiceAccount(ctx context.Context, name string) (*ServiceAccount, error) {
	return a.store.LookupServiceAccount(ctx, name)
}

// ListServiceAccounts pages through service accounts by name.
func (a *Authority) ListServiceAccounts(ctx context.Context, opts ListOptions) (store.Page[*ServiceAccount], error) {
	return a.store.ListServiceAccounts(ctx, opts)
}

// AuthenticateService checks a service account's password, with the same
// rules as Authenticate: one answer for every failure, and backoff.
func (a *Authority) AuthenticateService(ctx context.Context, name, pw, source string) (*Principal, error) {
	sa, err := a.store.LookupServiceAccount(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	account := "service:" + strings.ToLower(name)
	if wait := a.limit.Check(account, source); wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	var hash string
	if sa != nil && sa.Password != nil {
		hash = sa.Password.Hash
	}
	ok, _ := a.check(hash, pw)
	if !ok || sa.Disabled {
		a.limit.Failure(account, source)
		a.log.Info("service account login failed", "name", name, "source", source)
		return nil, ErrInvalidCredentials
	}
	a.limit.Success(account, source)
	return &Principal{Kind: "service", ID: sa.ID, Name: sa.Name, Roles: sa.Roles}, nil
}

// tokenPrefix marks Headwater API tokens, so secret scanners can find them.
const tokenPrefix = "hwt_"

func tokenDigest(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}

var knownScopes = map[string]bool{ScopeAdmin: true, ScopeSCIM: true}

// CreateToken makes an API token and returns its secret, which is shown
// this once: only its SHA-256 digest is stored. ttl 0 means no expiry.
func (a *Authority) CreateToken(ctx context.Context, name string, scopes []string, ttl time.Duration) (string, *Token, error) {
	if err := checkName("name", name, true); err != nil {
		return "", nil, err
	}
	if len(scopes) == 0 {
		return "", nil, invalid("scopes", "at least one is required (admin, scim)")
	}
	var clean []string
	for _, s := range scopes {
		s = strings.ToLower(strings.TrimSpace(s))
		if !knownScopes[s] {
			return "", nil, invalid("scopes", "unknown scope %q (known: admin, scim)", s)
		}
		clean = append(clean, s)
	}
	if ttl < 0 {
		return "", nil, invalid("ttl", "must not be negative")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := a.now().UTC()
	t := &Token{ID: uuid.NewString(), Name: name, Digest: tokenDigest(secret), Scopes: clean, CreatedBy: ActorFrom(ctx).Name, Created: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	created, err := a.store.CreateToken(ctx, t, store.Write{Audit: a.audit(ctx, "token.create", "token", t.ID, map[string]string{"name": name, "scopes": strings.Join(clean, ",")})})
	if err != nil {
		return "", nil, err
	}
	return secret, created, nil
}

// AdminTokenName is the name VerifyToken gives the bootstrap admin token.
const AdminTokenName = "admin-token"

// VerifyToken returns the token a bearer secret belongs to, or
// ErrInvalidCredentials for unknown, revoked and expired tokens.
func (a *Authority) VerifyToken(ctx context.Context, secret string) (*Token, error) {
	if secret == "" {
		return nil, ErrInvalidCredentials
	}
	d := tokenDigest(secret)
	if a.adminDigest != "" && subtle.ConstantTimeCompare([]byte(d), []byte(a.adminDigest)) == 1 {
		return &Token{ID: AdminTokenName, Name: AdminTokenName, Scopes: []string{ScopeAdmin, ScopeSCIM}}, nil
	}
	// The lookup is by digest: an attacker's timing can at most learn
	// digests' prefixes, which do not help find a secret.
	t, err := a.store.TokenByDigest(ctx, d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if t.ExpiresAt != nil && a.now().After(*t.ExpiresAt) {
		return nil, ErrInvalidCredentials
	}
	return t, nil
}

// ParseBearer extracts the secret of an "Authorization: Bearer <token>"
// header value.
func ParseBearer(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// TokenActor is how the audit log names what a token did.
func TokenActor(t *Token) string {
	if t.ID == AdminTokenName {
		return AdminTokenName
	}
	return "token:" + t.Name
}

// ListTokens lists token records (never secrets).
func (a *Authority) ListTokens(ctx context.Context) ([]*Token, error) { return a.store.ListTokens(ctx) }

// RevokeToken deletes a token.
func (a *Authority) RevokeToken(ctx context.Context, id string) error {
	return a.store.DeleteToken(ctx, id, store.Write{Audit: a.audit(ctx, "token.revoke", "token", id, nil)})
}
