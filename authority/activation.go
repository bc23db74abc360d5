package authority

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// Activation links let a staged user (created by an administrator or an HR
// push without a password) choose a password and become active. The link
// carries a random token; the store keeps its SHA-256 under a lease, and
// using it takes the record in one transaction, so a link works once.

const objActivation = "activation"

// ErrLinkInvalid is an activation link that is unknown, used or expired.
var ErrLinkInvalid = errors.New("this activation link is not valid: it was used already or it expired; ask your administrator for a new one")

// CreateActivation returns a one-time token for the user, valid for ttl.
// The user must be staged or have no password yet.
func (a *Authority) CreateActivation(ctx context.Context, userID string, ttl time.Duration) (string, error) {
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		return "", err
	}
	if u.State == StateSuspended {
		return "", invalid("state", "the user is suspended; activate them first")
	}
	if u.State == StateActive && u.Password != nil {
		return "", invalid("state", "the user is active and has a password; reset the password instead")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if err := a.store.PutObject(ctx, objActivation, digestHex(token), []byte(userID), ttl); err != nil {
		return "", err
	}
	a.store.AppendAudit(ctx, a.audit(ctx, "user.activation.link", "user", userID, nil))
	return token, nil
}

// ActivationUser returns the user a token activates, without using it.
func (a *Authority) ActivationUser(ctx context.Context, token string) (*User, error) {
	if token == "" {
		return nil, ErrLinkInvalid
	}
	o, err := a.store.GetObject(ctx, objActivation, digestHex(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, err
	}
	return a.store.GetUser(ctx, string(o.Value))
}

// ActivateWithLink sets the password chosen through an activation link and makes
// the user active. A password the policy refuses leaves the link usable.
func (a *Authority) ActivateWithLink(ctx context.Context, token, pw string) (*User, error) {
	u, err := a.ActivationUser(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := a.policy.Check(pw, personal(u)...); err != nil {
		return nil, err
	}
	if _, err := a.store.TakeObject(ctx, objActivation, digestHex(token)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrLinkInvalid
		}
		return nil, err
	}
	return a.ReplaceUser(ctx, u.ID, 0, func(x *User) error {
		x.State = StateActive
		return nil
	}, &NewPassword{Cleartext: pw})
}
