package ad

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// A wrong bind password is a credentials error that says so, with AD's
// data code.
func TestWrongBindPassword(t *testing.T) {
	c, err := New(t.Context(), connConfig(settings(nil), "not-the-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Test(t.Context())
	if connectors.KindOf(err) != connectors.KindAuth {
		t.Fatalf("Test with a wrong password: %v (kind %v), want a credentials error", err, connectors.KindOf(err))
	}
	t.Logf("wrong password: %v", err)
	for _, w := range []string{"52e", "password is wrong", dc.AdminDN} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the message %q does not say %q", err, w)
		}
	}
}

// A disabled bind account is AD's data 533, explained.
func TestDisabledBindAccount(t *testing.T) {
	c := newConn(t, nil)
	d := desired()
	pw := goodPassword()
	a, err := c.Create(t.Context(), d, pw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), a.ID) })
	off := false
	if err := c.Update(t.Context(), a.ID, connectors.Patch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	svc, err := New(t.Context(), connConfig(settings(func(s *Settings) { s.BindDN = d.Login }), pw))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	err = svc.Test(t.Context())
	if connectors.KindOf(err) != connectors.KindAuth || !strings.Contains(err.Error(), "533") || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("Test as a disabled account: %v, want a credentials error explaining data 533", err)
	}
}

// A bind account without rights to create users gets a credentials error
// (LDAP 50), not a rejection of the user.
func TestInsufficientRights(t *testing.T) {
	c := newConn(t, nil)
	d := desired()
	pw := goodPassword()
	a := create(t, c, d)
	if err := c.SetPassword(t.Context(), a.ID, pw); err != nil {
		t.Fatal(err)
	}
	weak, err := New(t.Context(), connConfig(settings(func(s *Settings) { s.BindDN = d.Login }), pw))
	if err != nil {
		t.Fatal(err)
	}
	defer weak.Close()
	_, err = weak.Create(t.Context(), desired(), goodPassword())
	if connectors.KindOf(err) != connectors.KindAuth || !strings.Contains(err.Error(), "lacks the rights") {
		t.Errorf("Create as an ordinary user: %v (kind %v), want a credentials error about rights", err, connectors.KindOf(err))
	}
}

// No DC at the address: unreachable.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(t.Context(), connConfig(settings(func(s *Settings) { s.URL = "ldaps://" + addr }), dc.AdminPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Test(t.Context()); connectors.KindOf(err) != connectors.KindUnreachable {
		t.Errorf("Test with no DC: %v (kind %v), want unreachable", err, connectors.KindOf(err))
	}
	// A DC whose certificate is not trusted.
	c2, err := New(t.Context(), connConfig(settings(func(s *Settings) { s.CAFile = "" }), dc.AdminPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Test(t.Context()); connectors.KindOf(err) != connectors.KindUnreachable || !strings.Contains(err.Error(), "caFile") {
		t.Errorf("Test without the CA: %v, want unreachable naming caFile", err)
	}
}

func TestClassify(t *testing.T) {
	le := func(code uint16, msg string) error { return ldap.NewError(code, errors.New(msg)) }
	cases := []struct {
		err  error
		kind connectors.ErrorKind
		says string
	}{
		{le(19, "0000052D: Constraint violation - check_password_restrictions: the password is too short."), connectors.KindRejected, "domain's policy"},
		{le(68, "00002071: samldb: Account name (sAMAccountName) 'x' already in use!"), connectors.KindRejected, "sAMAccountName"},
		{le(19, "0000202F: samldb: duplicate UPN: x@y"), connectors.KindRejected, "user principal name"},
		{le(19, "000021C8: AtrErr: DSID-03200BBA, #1: The value provided for the new user principal name is already in use"), connectors.KindRejected, "user principal name"},
		{le(50, "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS)"), connectors.KindAuth, "lacks the rights"},
		{le(32, "0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT)"), connectors.KindTransient, "not found"},
		{le(51, "busy"), connectors.KindTransient, "busy"},
		{le(52, "unavailable"), connectors.KindUnreachable, "unavailable"},
		{le(ldap.ErrorNetwork, "ldap: connection closed"), connectors.KindUnreachable, "lost the connection"},
		{le(53, "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM)"), connectors.KindRejected, "WILL_NOT_PERFORM"},
	}
	for _, tc := range cases {
		err := classify("do it", tc.err)
		if k := connectors.KindOf(err); k != tc.kind {
			t.Errorf("%v: kind %v, want %v", tc.err, k, tc.kind)
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: message %q, want it to say %q", tc.err, err, tc.says)
		}
	}
	if err := classify("get", le(32, "no such object")); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("noSuchObject: %v, want ErrNotFound", err)
	}
	for code, says := range map[string]string{"52e": "wrong", "533": "disabled", "775": "locked", "701": "expired", "9999": "data 9999"} {
		err := bindError("CN=svc", le(49, "80090308: LdapErr: DSID-0C090446, comment: AcceptSecurityContext error, data "+code+", v2580"))
		if connectors.KindOf(err) != connectors.KindAuth || !strings.Contains(err.Error(), says) {
			t.Errorf("bind data %s: %v, want a credentials error saying %q", code, err, says)
		}
	}
}
