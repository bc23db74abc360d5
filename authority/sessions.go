package authority

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// Browser sessions are store objects with a lease, so every replica sees
// the same sessions and an expired one disappears everywhere. The cookie
// carries "<userID>.<secret>"; the store keeps only the secret's SHA-256,
// under "<userID>/<digest>", so sessions can be listed and ended per user
// and a copy of etcd yields no usable cookie.

const objSessions = "sessions"

// Session is one signed-in browser.
type Session struct {
	// ID is the digest of the secret: safe to show and to name the
	// session in a "sign out" form; it never authenticates.
	ID           string    `json:"-"`
	UserID       string    `json:"userId"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires"`
	AuthnInstant time.Time `json:"authnInstant"`
	// MFA says a second factor was checked at sign-in.
	MFA       bool   `json:"mfa,omitempty"`
	Source    string `json:"source,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	// SPs lists the SAML service providers this session signed in to,
	// for single logout.
	SPs []string `json:"sps,omitempty"`
}

// ErrNoSession is returned for a cookie that names no live session.
var ErrNoSession = errors.New("no such session")

// CreateSession starts a session for the user and returns the cookie value.
func (a *Authority) CreateSession(ctx context.Context, s Session, ttl time.Duration) (cookie string, _ *Session, _ error) {
	if ttl <= 0 {
		return "", nil, errors.New("a session needs a lifetime")
	}
	u, err := a.store.GetUser(ctx, s.UserID)
	if err != nil {
		return "", nil, err
	}
	if u.State != StateActive {
		return "", nil, ErrInvalidCredentials
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	now := a.now().UTC()
	s.ID = digestHex(secret)
	s.Created = now
	s.Expires = now.Add(ttl)
	if s.AuthnInstant.IsZero() {
		s.AuthnInstant = now
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return "", nil, err
	}
	if err := a.store.PutObject(ctx, objSessions, s.UserID+"/"+s.ID, b, ttl); err != nil {
		return "", nil, fmt.Errorf("storing session: %w", err)
	}
	return s.UserID + "." + secret, &s, nil
}

func digestHex(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

func splitCookie(cookie string) (userID, digest string, ok bool) {
	uid, secret, ok := strings.Cut(cookie, ".")
	if !ok || uid == "" || len(secret) < 40 || strings.ContainsAny(uid, "/") {
		return "", "", false
	}
	return uid, digestHex(secret), true
}

// Session returns the live session a cookie names and its user, who must
// still be active; anything else is ErrNoSession.
func (a *Authority) Session(ctx context.Context, cookie string) (*Session, *User, error) {
	uid, id, ok := splitCookie(cookie)
	if !ok {
		return nil, nil, ErrNoSession
	}
	o, err := a.store.GetObject(ctx, objSessions, uid+"/"+id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	s := new(Session)
	if err := json.Unmarshal(o.Value, s); err != nil {
		return nil, nil, fmt.Errorf("session record: %w", err)
	}
	s.ID = id
	if !a.now().Before(s.Expires) {
		return nil, nil, ErrNoSession
	}
	u, err := a.store.GetUser(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	if u.State != StateActive {
		// A suspended user's sessions end now, not at expiry.
		a.store.DeleteObjects(ctx, objSessions, uid+"/")
		return nil, nil, ErrNoSession
	}
	return s, u, nil
}

// NoteSessionSP records that the session signed in to a service provider,
// so single logout can reach it.
func (a *Authority) NoteSessionSP(ctx context.Context, s *Session, entityID string) error {
	for _, sp := range s.SPs {
		if sp == entityID {
			return nil
		}
	}
	s.SPs = append(s.SPs, entityID)
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	ttl := time.Until(s.Expires)
	if ttl <= 0 {
		return ErrNoSession
	}
	return a.store.PutObject(ctx, objSessions, s.UserID+"/"+s.ID, b, ttl)
}

// EndSession signs one session out; id is Session.ID.
func (a *Authority) EndSession(ctx context.Context, userID, id string) error {
	if userID == "" || id == "" || strings.Contains(userID+id, "/") {
		return ErrNoSession
	}
	return a.store.DeleteObject(ctx, objSessions, userID+"/"+id)
}

// EndSessions signs every session of the user out.
func (a *Authority) EndSessions(ctx context.Context, userID string) (int64, error) {
	if userID == "" || strings.Contains(userID, "/") {
		return 0, ErrNoSession
	}
	return a.store.DeleteObjects(ctx, objSessions, userID+"/")
}

// Sessions lists the user's live sessions, newest first.
func (a *Authority) Sessions(ctx context.Context, userID string) ([]Session, error) {
	objs, err := a.store.ListObjects(ctx, objSessions, userID+"/", 0)
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(objs))
	now := a.now()
	for _, o := range objs {
		var s Session
		if json.Unmarshal(o.Value, &s) != nil || !now.Before(s.Expires) {
			continue
		}
		s.ID = strings.TrimPrefix(o.Key, userID+"/")
		out = append(out, s)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Created.After(out[j-1].Created); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}
