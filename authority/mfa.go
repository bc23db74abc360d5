package authority

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/headwater/headwater/authority/store"
)

// TOTP (RFC 6238): 6 digits, 30-second steps, SHA-1 (what every
// authenticator app supports), one step of clock skew either way. A code
// is accepted once: the step it matched is claimed in the store, so a code
// read over someone's shoulder cannot be replayed, on any replica.

const (
	objTOTPPending = "totp-pending" // <userID>/<enrolment>: sealed secret awaiting confirmation
	objTOTPUsed    = "totp-used"    // <userID>/<step>: steps already accepted
	totpPeriod     = 30
	totpIssuer     = "Headwater"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// ErrInvalidCode is a wrong, expired or reused one-time code.
var ErrInvalidCode = errors.New("the code is not valid")

func totpAAD(userID string) []byte { return []byte("totp/" + userID) }

// BeginTOTP makes a new secret for the user to enrol in an authenticator
// app; it takes effect once ConfirmTOTP sees a code made from it. The key
// holds the otpauth:// URL for the QR code; enrolment names this attempt
// (two open enrolment pages do not overwrite each other's secret).
func (a *Authority) BeginTOTP(ctx context.Context, userID string) (key *otp.Key, enrolment string, err error) {
	u, err := a.store.GetUser(ctx, userID)
	if err != nil {
		return nil, "", err
	}
	key, err = totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.UserName, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, "", fmt.Errorf("generating a TOTP secret: %w", err)
	}
	sealed, err := a.keys.Seal([]byte(key.Secret()), totpAAD(userID))
	if err != nil {
		return nil, "", err
	}
	b := make([]byte, 12)
	rand.Read(b)
	enrolment = hex.EncodeToString(b)
	if err := a.store.PutObject(ctx, objTOTPPending, userID+"/"+enrolment, []byte(sealed), 15*time.Minute); err != nil {
		return nil, "", err
	}
	return key, enrolment, nil
}

// ConfirmTOTP enrols the secret from BeginTOTP once code matches it.
func (a *Authority) ConfirmTOTP(ctx context.Context, userID, enrolment, code, source string) error {
	if enrolment == "" || strings.Contains(enrolment, "/") {
		return invalid("totp", "the enrolment expired; start again")
	}
	o, err := a.store.GetObject(ctx, objTOTPPending, userID+"/"+enrolment)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("totp", "the enrolment expired; start again")
	}
	if err != nil {
		return err
	}
	secret, err := a.keys.Open(string(o.Value), totpAAD(userID))
	if err != nil {
		return fmt.Errorf("opening the pending TOTP secret: %w", err)
	}
	if err := a.checkCode(ctx, userID, string(secret), code, source); err != nil {
		return err
	}
	_, err = a.updateUser(ctx, userID, 0, "user.totp.enrol", func(u *User, _ []Binding) (store.Write, error) {
		u.TOTP = &store.TOTP{Secret: string(o.Value), Enrolled: a.now().UTC()}
		return store.Write{}, nil
	})
	if err != nil {
		return err
	}
	a.store.DeleteObjects(ctx, objTOTPPending, userID+"/")
	return nil
}

// RemoveTOTP unenrols the user's authenticator.
func (a *Authority) RemoveTOTP(ctx context.Context, userID string) error {
	_, err := a.updateUser(ctx, userID, 0, "user.totp.remove", func(u *User, _ []Binding) (store.Write, error) {
		u.TOTP = nil
		return store.Write{}, nil
	})
	return err
}

// VerifyTOTP checks a code against the user's enrolled authenticator,
// under the shared limiter.
func (a *Authority) VerifyTOTP(ctx context.Context, u *User, code, source string) error {
	if u.TOTP == nil {
		return ErrInvalidCode
	}
	secret, err := a.keys.Open(u.TOTP.Secret, totpAAD(u.ID))
	if err != nil {
		return fmt.Errorf("opening the TOTP secret: %w", err)
	}
	return a.checkCode(ctx, u.ID, string(secret), code, source)
}

func (a *Authority) checkCode(ctx context.Context, userID, secret, code, source string) error {
	account := "totp:" + userID
	if wait := a.limit.Check(account, source); wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	now := a.now()
	for _, skew := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err != nil {
			return err
		}
		if len(code) != len(want) || subtle.ConstantTimeCompare([]byte(code), []byte(want)) != 1 {
			continue
		}
		step := t.Unix() / totpPeriod
		err = a.store.CreateObject(ctx, objTOTPUsed, fmt.Sprintf("%s/%d", userID, step), nil, 3*totpPeriod*time.Second)
		if errors.Is(err, store.ErrConflict) {
			break // replayed
		}
		if err != nil {
			return err
		}
		a.limit.Success(account, source)
		return nil
	}
	a.limit.Failure(account, source)
	return ErrInvalidCode
}
