package authority_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/authority/limiter"
	"github.com/headwater/headwater/authority/seal"
	"github.com/headwater/headwater/authority/store"
)

const goodPassword = "Correct-Horse-42"

type fixture struct {
	a     *authority.Authority
	st    *store.Etcd
	keys  *seal.Keyring
	clock *time.Time
}

func setup(t *testing.T) *fixture {
	t.Helper()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f := &fixture{clock: &now}
	clock := func() time.Time { return *f.clock }
	f.a, f.st = authoritytest.New(t, func(c *authority.Config) {
		f.keys = c.Keyring
		c.Limiter = limiter.New(limiter.Config{AccountFree: 3, AddrFree: 10, Base: time.Second, Max: time.Minute}, clock)
		c.AdminToken = "bootstrap-token-0123456789"
		c.Now = clock
	})
	return f
}

func ctx() context.Context { return context.Background() }

func (f *fixture) user(t *testing.T, name string) *authority.User {
	t.Helper()
	u, err := f.a.CreateUser(ctx(), &authority.User{
		UserName: name,
		Name:     authority.Name{GivenName: "Ada", FamilyName: "Lovelace"},
		Emails:   []authority.Email{{Value: name + "@example.com"}},
	}, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCreateUserValidation(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name  string
		user  authority.User
		pw    string
		field string
	}{
		{"empty userName", authority.User{}, "", "userName"},
		{"space in userName", authority.User{UserName: "ada lovelace"}, "", "userName"},
		{"backslash", authority.User{UserName: `corp\ada`}, "", "userName"},
		{"control char", authority.User{UserName: "ada\x00"}, "", "userName"},
		{"bad email", authority.User{UserName: "ada", Emails: []authority.Email{{Value: "not-an-email"}}}, "", "emails[0].value"},
		{"two primaries", authority.User{UserName: "ada", Emails: []authority.Email{{Value: "a@x.io", Primary: true}, {Value: "b@x.io", Primary: true}}}, "", "emails"},
		{"unknown role", authority.User{UserName: "ada", Roles: []string{"root"}}, "", "roles"},
		{"bad state", authority.User{UserName: "ada", State: "deleted"}, "", "state"},
		{"system uid", authority.User{UserName: "ada", UIDNumber: 12}, "", "uidNumber"},
		{"relative home", authority.User{UserName: "ada", HomeDirectory: "home/ada"}, "", "homeDirectory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.a.CreateUser(ctx(), &tc.user, tc.pw)
			var ie *authority.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Fatalf("got %v, want invalid %s", err, tc.field)
			}
			if !errors.Is(err, authority.ErrInvalid) {
				t.Fatal("not ErrInvalid")
			}
		})
	}
	// A weak password is a policy error naming the rule, and nothing is stored.
	_, err := f.a.CreateUser(ctx(), &authority.User{UserName: "weak"}, "password")
	var pe *authority.PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a policy error", err)
	}
	if _, err := f.a.LookupUser(ctx(), authority.ByUserName, "weak"); !errors.Is(err, authority.ErrNotFound) {
		t.Fatalf("rejected user was stored: %v", err)
	}
	// The first email becomes primary, duplicates collapse, state defaults to active.
	u, err := f.a.CreateUser(ctx(), &authority.User{UserName: "norm", Emails: []authority.Email{{Value: "n@x.io"}, {Value: "N@x.io"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Emails) != 1 || !u.Emails[0].Primary || u.State != authority.StateActive || u.Password != nil {
		t.Fatalf("normalised user: %+v", u)
	}
}

func TestUpdateUser(t *testing.T) {
	f := setup(t)
	u := f.user(t, "grace")
	*f.clock = f.clock.Add(time.Second)
	got, err := f.a.UpdateUser(ctx(), u.ID, u.Version, func(x *authority.User) error {
		x.Title = "Rear Admiral"
		return nil
	})
	if err != nil || got.Title != "Rear Admiral" || !got.Created.Equal(u.Created) {
		t.Fatalf("update: %+v %v", got, err)
	}
	_, err = f.a.UpdateUser(ctx(), u.ID, 0, func(x *authority.User) error {
		x.Password = nil
		return nil
	})
	if !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("password change through update: %v", err)
	}
	_, err = f.a.UpdateUser(ctx(), u.ID, 0, func(x *authority.User) error {
		x.UserName = ""
		return nil
	})
	if !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("empty userName accepted: %v", err)
	}
	evs, err := f.a.Audit(ctx(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Action != "user.update" || evs[0].Details["fields"] != "title" {
		t.Fatalf("audit of update: %+v", evs[0])
	}
}

func TestAuthenticate(t *testing.T) {
	f := setup(t)
	u := f.user(t, "alan")
	for _, login := range []string{"alan", "ALAN", "alan@example.com", `CORP\alan`} {
		p, err := f.a.Authenticate(ctx(), login, goodPassword, "192.0.2.1")
		if err != nil || p.ID != u.ID || p.Kind != "user" {
			t.Fatalf("Authenticate(%q) = %+v, %v", login, p, err)
		}
	}
	if _, err := f.a.Authenticate(ctx(), "alan", "wrong-password-1", "192.0.2.2"); !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := f.a.Authenticate(ctx(), "nobody", goodPassword, "192.0.2.2"); !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := f.a.Suspend(ctx(), u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.a.Authenticate(ctx(), "alan", goodPassword, "192.0.2.3")
	if !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatalf("suspended user: %v", err)
	}
	if err.Error() != authority.ErrInvalidCredentials.Error() {
		t.Fatalf("suspended user got a distinguishable error: %v", err)
	}
	if _, err := f.a.Activate(ctx(), u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx(), "alan", goodPassword, "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticateBackoff(t *testing.T) {
	f := setup(t)
	f.user(t, "mallory")
	for i := 0; i < 3; i++ {
		if _, err := f.a.Authenticate(ctx(), "mallory", "nope-nope-nope", "198.51.100.7"); !errors.Is(err, authority.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	// Past the free failures, even the right password is not checked.
	f.a.Authenticate(ctx(), "mallory", "nope-nope-nope", "198.51.100.7")
	_, err := f.a.Authenticate(ctx(), "mallory", goodPassword, "198.51.100.8")
	var te *authority.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("got %v, want throttling", err)
	}
	if !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatal("throttling must read as invalid credentials to callers that do not distinguish")
	}
	// The email names the same account: it shares the backoff.
	if _, err := f.a.Authenticate(ctx(), "mallory@example.com", goodPassword, "198.51.100.9"); !errors.As(err, &te) {
		t.Fatalf("email login bypassed the account's backoff: %v", err)
	}
	*f.clock = f.clock.Add(2 * time.Minute)
	if _, err := f.a.Authenticate(ctx(), "mallory", goodPassword, "198.51.100.8"); err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
}

func TestImportedHashUpgraded(t *testing.T) {
	f := setup(t)
	u := f.user(t, "legacy")
	salt := []byte("saltsalt")
	sum := sha1.Sum(append([]byte("Imported-Pass-9"), salt...))
	ssha := "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
	// Imports write the hash as found in the old directory.
	if _, err := f.st.UpdateUser(ctx(), u.ID, 0, func(x *store.User, _ []store.Binding) (store.Write, error) {
		x.Password = &store.Password{Hash: ssha}
		return store.Write{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Authenticate(ctx(), "legacy", "Imported-Pass-9", "203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	got, _ := f.a.GetUser(ctx(), u.ID)
	if !strings.HasPrefix(got.Password.Hash, "$argon2id$") {
		t.Fatalf("hash not upgraded: %s", got.Password.Hash)
	}
	if _, err := f.a.Authenticate(ctx(), "legacy", "Imported-Pass-9", "203.0.113.1"); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}

func TestSetPasswordQueuesSealedOutbox(t *testing.T) {
	f := setup(t)
	u := f.user(t, "linus")
	if _, err := f.a.Bind(ctx(), u.ID, "corp-ad", "push"); err != nil {
		t.Fatal(err)
	}
	if err := f.a.SetPassword(ctx(), u.ID, goodPassword, false); err == nil {
		t.Fatal("reusing the current password was accepted")
	} else if pe := (*authority.PolicyError)(nil); !errors.As(err, &pe) || pe.Violations[0].Rule != "reuse" {
		t.Fatalf("reuse: %v", err)
	}
	if err := f.a.SetPassword(ctx(), u.ID, "linus", false); err == nil {
		t.Fatal("weak password accepted")
	}
	newPw := "Fresh-Water-2026"
	if err := f.a.SetPassword(ctx(), u.ID, newPw, true); err != nil {
		t.Fatal(err)
	}
	es, err := passwordEntries(f.st.Outbox(ctx(), "corp-ad", 10))
	if err != nil || len(es) != 1 {
		t.Fatalf("outbox: %+v %v", es, err)
	}
	if strings.Contains(es[0].Sealed, newPw) {
		t.Fatal("cleartext visible in the outbox entry")
	}
	got, err := f.a.OpenOutboxPassword(es[0])
	if err != nil || got != newPw {
		t.Fatalf("unsealed %q, %v", got, err)
	}
	// A sealed value moved to another user's entry does not open.
	moved := es[0]
	moved.UserID = "someone-else"
	if _, err := f.a.OpenOutboxPassword(moved); err == nil {
		t.Fatal("sealed password opened under another user")
	}
	p, err := f.a.Authenticate(ctx(), "linus", newPw, "")
	if err != nil || !p.MustChangePassword {
		t.Fatalf("login after reset: %+v %v", p, err)
	}
}

func TestPasswordTakeover(t *testing.T) {
	f := setup(t)
	u := f.user(t, "taken")
	if _, err := f.a.Bind(ctx(), u.ID, "m365", ""); err != nil {
		t.Fatal(err)
	}
	if es, _ := passwordEntries(f.st.Outbox(ctx(), "m365", 10)); len(es) != 0 {
		t.Fatal("binding alone queued a password")
	}
	if _, err := f.a.Authenticate(ctx(), "taken", goodPassword, ""); err != nil {
		t.Fatal(err)
	}
	es, _ := passwordEntries(f.st.Outbox(ctx(), "m365", 10))
	if len(es) != 1 {
		t.Fatalf("login did not queue the password for the waiting directory: %+v", es)
	}
	if pw, err := f.a.OpenOutboxPassword(es[0]); err != nil || pw != goodPassword {
		t.Fatalf("takeover entry holds %q, %v", pw, err)
	}
}

func TestTokens(t *testing.T) {
	f := setup(t)
	secret, tok, err := f.a.CreateToken(ctx(), "okta", []string{"scim"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "hwt_") || strings.Contains(tok.Digest, secret) {
		t.Fatalf("token %q / %+v", secret, tok)
	}
	got, err := f.a.VerifyToken(ctx(), secret)
	if err != nil || got.ID != tok.ID || got.HasScope("admin") {
		t.Fatalf("VerifyToken: %+v %v", got, err)
	}
	if _, err := f.a.VerifyToken(ctx(), secret+"x"); !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatalf("wrong secret: %v", err)
	}
	admin, err := f.a.VerifyToken(ctx(), "bootstrap-token-0123456789")
	if err != nil || !admin.HasScope("admin") {
		t.Fatalf("admin token: %+v %v", admin, err)
	}
	if _, _, err := f.a.CreateToken(ctx(), "bad", []string{"root"}, 0); !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("unknown scope: %v", err)
	}
	*f.clock = f.clock.Add(2 * time.Hour)
	if _, err := f.a.VerifyToken(ctx(), secret); !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatalf("expired token accepted: %v", err)
	}
	if err := f.a.RevokeToken(ctx(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.a.ListTokens(ctx()); len(list) != 0 {
		t.Fatalf("revoked token still listed: %+v", list)
	}
}

func TestServiceAccounts(t *testing.T) {
	f := setup(t)
	sa, err := f.a.CreateServiceAccount(ctx(), "gitea", "Service-Pass-77", "Gitea LDAP source", []string{"ldap-reader"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.a.AuthenticateService(ctx(), "GITEA", "Service-Pass-77", "")
	if err != nil || p.ID != sa.ID || !p.HasRole("ldap-reader") {
		t.Fatalf("AuthenticateService: %+v %v", p, err)
	}
	if _, err := f.a.AuthenticateService(ctx(), "gitea", "wrong-wrong-1", ""); !errors.Is(err, authority.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if _, err := f.a.CreateServiceAccount(ctx(), "weak", "gitea", "", nil); err == nil {
		t.Fatal("weak service password accepted")
	}
}

func TestBootstrap(t *testing.T) {
	f := setup(t)
	created, err := f.a.Bootstrap(ctx(), "Admin-Password-1")
	if err != nil || !created {
		t.Fatalf("first bootstrap: %v %v", created, err)
	}
	p, err := f.a.Authenticate(ctx(), "admin", "Admin-Password-1", "")
	if err != nil || !p.HasRole("admin") {
		t.Fatalf("admin login: %+v %v", p, err)
	}
	// A later start with another password changes nothing.
	created, err = f.a.Bootstrap(ctx(), "Other-Password-2")
	if err != nil || created {
		t.Fatalf("second bootstrap: %v %v", created, err)
	}
	if _, err := f.a.Authenticate(ctx(), "admin", "Admin-Password-1", ""); err != nil {
		t.Fatal("admin password was replaced on restart")
	}
}

func TestCreateWithImportedHash(t *testing.T) {
	f := setup(t)
	salt := []byte("NaCl1234")
	sum := sha1.Sum(append([]byte("Old-Directory-7"), salt...))
	ssha := "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
	u, err := f.a.CreateUser(ctx(), &authority.User{UserName: "migrated", Password: &authority.Password{Hash: ssha}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Password == nil || u.Password.Hash != ssha {
		t.Fatalf("imported hash not kept: %+v", u.Password)
	}
	if _, err := f.a.Authenticate(ctx(), "migrated", "Old-Directory-7", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.a.GetUser(ctx(), u.ID); !strings.HasPrefix(got.Password.Hash, "$argon2id$") {
		t.Fatal("imported hash not upgraded at first login")
	}
	for _, bad := range []string{"plaintext", "{SSHA}***", "{MD5}abc", "$6$rounds=99999999$s$h"} {
		_, err := f.a.CreateUser(ctx(), &authority.User{UserName: "bad", Password: &authority.Password{Hash: bad}}, "")
		var ie *authority.InvalidError
		if !errors.As(err, &ie) || ie.Field != "passwordHash" {
			t.Fatalf("hash %q: got %v, want invalid passwordHash", bad, err)
		}
	}
	_, err = f.a.CreateUser(ctx(), &authority.User{UserName: "both", Password: &authority.Password{Hash: ssha}}, "Some-Password-1")
	if !errors.Is(err, authority.ErrInvalid) {
		t.Fatalf("password and hash together: %v", err)
	}
}

// passwordEntries keeps the password entries (bindings and user changes
// also queue "sync" entries).
func passwordEntries(es []store.OutboxEntry, err error) ([]store.OutboxEntry, error) {
	var out []store.OutboxEntry
	for _, e := range es {
		if e.Kind == store.OutboxPassword {
			out = append(out, e)
		}
	}
	return out, err
}
