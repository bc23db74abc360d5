package authority_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
)

func newActive(t *testing.T, a *authority.Authority, name string) *authority.User {
	t.Helper()
	u, err := a.CreateUser(context.Background(), &authority.User{UserName: name, State: authority.StateActive,
		Emails: []authority.Email{{Value: name + "@example.com"}}}, "Correct-Horse-42")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSessions(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	ctx := context.Background()
	u := newActive(t, a, "sess")
	cookie, s, err := a.CreateSession(ctx, authority.Session{UserID: u.ID, Source: "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, gu, err := a.Session(ctx, cookie)
	if err != nil || got.ID != s.ID || gu.ID != u.ID {
		t.Fatalf("session: %+v %v", got, err)
	}
	// A cookie with the right user but another secret names nothing.
	for _, bad := range []string{"", "x", u.ID + ".short", u.ID + "." + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "other." + cookie[len(u.ID)+1:]} {
		if _, _, err := a.Session(ctx, bad); !errors.Is(err, authority.ErrNoSession) {
			t.Errorf("cookie %q: %v", bad, err)
		}
	}
	if err := a.NoteSessionSP(ctx, got, "https://sp.example.com"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := a.Session(ctx, cookie); len(got.SPs) != 1 {
		t.Fatalf("SPs not kept: %+v", got)
	}
	cookie2, _, _ := a.CreateSession(ctx, authority.Session{UserID: u.ID}, time.Hour)
	list, err := a.Sessions(ctx, u.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := a.EndSession(ctx, u.ID, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Session(ctx, cookie); !errors.Is(err, authority.ErrNoSession) {
		t.Fatalf("ended session still works: %v", err)
	}
	if _, _, err := a.Session(ctx, cookie2); err != nil {
		t.Fatalf("the other session ended too: %v", err)
	}
	// Suspending the user ends every session.
	if _, err := a.Suspend(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Session(ctx, cookie2); !errors.Is(err, authority.ErrNoSession) {
		t.Fatalf("suspended user's session works: %v", err)
	}
	if _, _, err := a.CreateSession(ctx, authority.Session{UserID: u.ID}, time.Hour); err == nil {
		t.Fatal("a session was created for a suspended user")
	}
}

func TestTOTP(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, _ := authoritytest.New(t, func(c *authority.Config) { c.Now = clock })
	ctx := context.Background()
	u := newActive(t, a, "totp")
	key, enrol, err := a.BeginTOTP(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), now)
	wrong := string('0'+(code[0]-'0'+1)%10) + code[1:]
	if err := a.ConfirmTOTP(ctx, u.ID, enrol, wrong, "127.0.0.1"); !errors.Is(err, authority.ErrInvalidCode) {
		t.Fatalf("wrong code accepted at enrolment: %v", err)
	}
	if err := a.ConfirmTOTP(ctx, u.ID, enrol, code, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	u, _ = a.GetUser(ctx, u.ID)
	if u.TOTP == nil || u.TOTP.Secret == key.Secret() {
		t.Fatalf("secret not stored sealed: %+v", u.TOTP)
	}
	// The code used at enrolment is spent.
	if err := a.VerifyTOTP(ctx, u, code, "127.0.0.1"); !errors.Is(err, authority.ErrInvalidCode) {
		t.Fatalf("replayed code: %v", err)
	}
	mu.Lock()
	now = now.Add(30 * time.Second)
	mu.Unlock()
	next, _ := totp.GenerateCode(key.Secret(), now)
	if err := a.VerifyTOTP(ctx, u, next, "127.0.0.1"); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	if err := a.VerifyTOTP(ctx, u, next, "127.0.0.1"); !errors.Is(err, authority.ErrInvalidCode) {
		t.Fatalf("same code twice: %v", err)
	}
	// One step of skew is accepted, two are not.
	mu.Lock()
	now = now.Add(5 * time.Minute)
	mu.Unlock()
	old, _ := totp.GenerateCode(key.Secret(), now.Add(-30*time.Second))
	if err := a.VerifyTOTP(ctx, u, old, "127.0.0.1"); err != nil {
		t.Fatalf("code one step old: %v", err)
	}
	older, _ := totp.GenerateCode(key.Secret(), now.Add(-90*time.Second))
	if err := a.VerifyTOTP(ctx, u, older, "127.0.0.1"); !errors.Is(err, authority.ErrInvalidCode) {
		t.Fatalf("code three steps old: %v", err)
	}
}

func TestActivationLink(t *testing.T) {
	a, _ := authoritytest.New(t, nil)
	ctx := context.Background()
	u, err := a.CreateUser(ctx, &authority.User{UserName: "newhire", State: authority.StateStaged}, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.CreateActivation(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.ActivationUser(ctx, tok); err != nil || got.ID != u.ID {
		t.Fatalf("link user: %v", err)
	}
	// A password the policy refuses leaves the link usable.
	var pe *authority.PolicyError
	if _, err := a.ActivateWithLink(ctx, tok, "short"); !errors.As(err, &pe) {
		t.Fatalf("weak password: %v", err)
	}
	got, err := a.ActivateWithLink(ctx, tok, "Tall-Giraffe-2026")
	if err != nil || got.State != authority.StateActive || got.Password == nil {
		t.Fatalf("activate: %+v %v", got, err)
	}
	if _, err := a.Authenticate(ctx, "newhire", "Tall-Giraffe-2026", "127.0.0.1"); err != nil {
		t.Fatalf("login after activation: %v", err)
	}
	if _, err := a.ActivateWithLink(ctx, tok, "Another-Giraffe-2026"); !errors.Is(err, authority.ErrLinkInvalid) {
		t.Fatalf("second use: %v", err)
	}
	// An expired link is refused.
	u2, _ := a.CreateUser(ctx, &authority.User{UserName: "late", State: authority.StateStaged}, "")
	tok2, err := a.CreateActivation(ctx, u2.ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := a.ActivationUser(ctx, tok2)
		if errors.Is(err, authority.ErrLinkInvalid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("1 s link still valid after 10 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
