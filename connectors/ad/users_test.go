package ad

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// create makes an account through c and deletes it when the test ends.
func create(t *testing.T, c *Conn, d connectors.Desired) *connectors.Account {
	t.Helper()
	a, err := c.Create(t.Context(), d, goodPassword())
	if err != nil {
		t.Fatalf("Create(%s): %v", d.Login, err)
	}
	t.Cleanup(func() {
		if err := c.Delete(context.Background(), a.ID); err != nil && !errors.Is(err, connectors.ErrNotFound) {
			t.Logf("cleanup: Delete(%s): %v", a.ID, err)
		}
	})
	return a
}

func wantRejected(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want a rejection", what)
	}
	if k := connectors.KindOf(err); k != connectors.KindRejected {
		t.Fatalf("%s: kind %v, want rejected (%v)", what, k, err)
	}
	t.Logf("%s: %v", what, err)
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the message %q does not say %q", what, err.Error(), w)
		}
	}
}

// A password the domain's policy refuses (too short, one class) is AD's
// 0000052D, reported as a rejection in words, and Create leaves no
// half-made account behind.
func TestPasswordPolicy(t *testing.T) {
	c := newConn(t, nil)
	d := desired()
	_, err := c.Create(t.Context(), d, "abc")
	wantRejected(t, "Create with a 3-letter password", err, "does not meet the domain's policy", "0000052D")
	if a, err := c.Find(t.Context(), d.Login, d.Email); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("after the refused Create, Find = %+v, %v; want ErrNotFound (the account removed again)", a, err)
	}

	a := create(t, c, d)
	err = c.SetPassword(t.Context(), a.ID, "password")
	wantRejected(t, "SetPassword of a password without upper case, digit or symbol", err, "does not meet the domain's policy", "0000052D")
}

// Two logins with the same local part in different domains make the same
// sAMAccountName: AD's 00002071, a rejection that names the account name.
func TestDuplicateAccountName(t *testing.T) {
	c := newConn(t, nil)
	d := desired()
	create(t, c, d)
	other := desired()
	local, _, _ := strings.Cut(d.Login, "@")
	other.Login = local + "@elsewhere.example"
	_, err := c.Create(t.Context(), other, goodPassword())
	wantRejected(t, "Create of a second account with sAMAccountName "+local, err, "sAMAccountName", "00002071")
}

// A UPN already in use, on an account whose sAMAccountName differs, is
// Samba's 0000202F (Windows' 000021C8): a rejection about the login.
func TestDuplicateUPN(t *testing.T) {
	c := newConn(t, nil)
	d := desired()
	a := create(t, c, d)
	adminModify(t, a.ID, func(m *ldap.ModifyRequest) { m.Replace("sAMAccountName", []string{"renamed-" + unique()}) })
	again := desired()
	again.Login = d.Login
	_, err := c.Create(t.Context(), again, goodPassword())
	wantRejected(t, "Create of a second account with UPN "+d.Login, err, "user principal name")
}

// Logins longer than AD's 20-character account names, or with characters
// AD refuses in one, get a name AD takes.
func TestAccountNameMapping(t *testing.T) {
	c := newConn(t, nil)
	u := unique()
	cases := []struct{ local, want string }{
		{"verylongfirstname" + u, "verylongfirstname" + u[:3]}, // cut at 20
		{"firstname.lastnamex." + u, "firstname.lastnamex"},    // and a dot left at the end dropped
		{"o'hara+" + u + "[x]", "o'hara" + u + "x"},
		{"a/b\\c=" + u, "abc" + u},
	}
	for _, tc := range cases {
		d := desired()
		d.Login = tc.local + "@" + domain
		a := create(t, c, d)
		e, ok := peek(t, a.ID)
		if !ok {
			t.Fatalf("no account %s", a.ID)
		}
		if got := e.GetAttributeValue("sAMAccountName"); got != tc.want {
			t.Errorf("login %s: sAMAccountName %q, want %q", d.Login, got, tc.want)
		}
		if got := e.GetAttributeValue("userPrincipalName"); got != d.Login {
			t.Errorf("login %s: userPrincipalName %q, want the login", d.Login, got)
		}
		if a.Login != d.Login {
			t.Errorf("login %s: Account.Login %q", d.Login, a.Login)
		}
	}
	_, err := c.Create(t.Context(), connectors.Desired{Login: `"[]:;|=,+*?<>@` + domain, DisplayName: "Nobody"}, goodPassword())
	wantRejected(t, "Create of a login with nothing usable before the @", err, "sAMAccountName")
}

// A new display name renames the object (modrdn), and a cn taken in the
// OU gets a number.
func TestRenameOnDisplayName(t *testing.T) {
	c := newConn(t, nil)
	a := create(t, c, desired())
	b := create(t, c, desired())
	name := "Ada Lovelace " + unique()
	for _, id := range []string{a.ID, b.ID} {
		if err := c.Update(t.Context(), id, connectors.Patch{DisplayName: &name}); err != nil {
			t.Fatalf("Update DisplayName: %v", err)
		}
	}
	ea, _ := peek(t, a.ID)
	eb, _ := peek(t, b.ID)
	if want := "CN=" + name + "," + testOU(); !strings.EqualFold(ea.DN, want) {
		t.Errorf("after the rename, the account is %s, want %s", ea.DN, want)
	}
	if want := "CN=" + name + " (2)," + testOU(); !strings.EqualFold(eb.DN, want) {
		t.Errorf("the second account with the name is %s, want %s", eb.DN, want)
	}
	for _, e := range []*ldap.Entry{ea, eb} {
		if got := e.GetAttributeValue("displayName"); got != name {
			t.Errorf("%s: displayName %q, want %q", e.DN, got, name)
		}
	}
	// Names and email change in place.
	given, mail := "Grace"+unique(), "grace."+unique()+"@"+domain
	if err := c.Update(t.Context(), a.ID, connectors.Patch{GivenName: &given, Email: &mail}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if e, _ := peek(t, a.ID); e.GetAttributeValue("givenName") != given || e.GetAttributeValue("mail") != mail || e.DN != ea.DN {
		t.Errorf("after Update of names: %s givenName %q mail %q", e.DN, e.GetAttributeValue("givenName"), e.GetAttributeValue("mail"))
	}
}

// An account created disabled has its password (pwdLastSet) and stays
// disabled (514), so enabling it later needs nothing else.
func TestCreateDisabled(t *testing.T) {
	c := newConn(t, nil)
	d := desired()
	d.Enabled = false
	a := create(t, c, d)
	e, _ := peek(t, a.ID)
	if uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl")); uac != 514 {
		t.Errorf("userAccountControl %d, want 514", uac)
	}
	if a.Enabled || a.PasswordChanged.IsZero() {
		t.Errorf("Create returned %+v, want disabled with PasswordChanged set", a)
	}
	on := true
	if err := c.Update(t.Context(), a.ID, connectors.Patch{Enabled: &on}); err != nil {
		t.Fatalf("enable: %v", err)
	}
	if e, _ := peek(t, a.ID); e.GetAttributeValue("userAccountControl") != "512" {
		t.Errorf("after enabling, userAccountControl %s, want 512", e.GetAttributeValue("userAccountControl"))
	}
}
