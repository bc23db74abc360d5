package m365

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/internal/graphemu"
)

// TestRoutingByVerifiedDomain: each user lands in the tenant that verified
// its domain; users in a domain no tenant verified are refused.
func TestRoutingByVerifiedDomain(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA, tenantB))
	ctx := t.Context()

	cases := []struct {
		domain, tenant string
	}{
		{"contoso.com", tenantA},
		{"CONTOSO.onmicrosoft.com", tenantA},
		{"fabrikam.com", tenantB},
	}
	for _, tc := range cases {
		d := desired(tc.domain)
		a, err := c.Create(ctx, d, goodPassword)
		if err != nil {
			t.Fatalf("Create in %s: %v", tc.domain, err)
		}
		tid, oid := splitID(t, a.ID)
		if tid != tc.tenant {
			t.Errorf("user of %s got id %s, want it in tenant %s", tc.domain, a.ID, tc.tenant)
		}
		u, err := emu.User(tc.tenant, oid)
		if err != nil {
			t.Errorf("user of %s is not in tenant %s: %v", tc.domain, tc.tenant, err)
		} else if !strings.EqualFold(u.UserPrincipalName, d.Login) {
			t.Errorf("tenant %s has %s under %s, want %s", tc.tenant, u.UserPrincipalName, oid, d.Login)
		}
		other := tenantB
		if tc.tenant == tenantB {
			other = tenantA
		}
		if _, err := emu.User(other, d.Login); !errors.Is(err, graphemu.ErrUserNotFound) {
			t.Errorf("user of %s also in tenant %s: %v", tc.domain, other, err)
		}
		if got, err := c.Get(ctx, a.ID); err != nil || !strings.EqualFold(got.Login, d.Login) {
			t.Errorf("Get(%s) = %+v, %v", a.ID, got, err)
		}
	}

	for _, domain := range []string{"unknown.example", "pending.contoso.com"} {
		d := desired(domain)
		err := c.Check(ctx, d)
		want := "user's domain " + domain + " is not a verified domain of any configured tenant"
		if connectors.KindOf(err) != connectors.KindRejected || err == nil || err.Error() != want {
			t.Errorf("Check in %s: %v (kind %v), want rejected %q", domain, err, connectors.KindOf(err), want)
		}
		if _, err := c.Create(ctx, d, goodPassword); connectors.KindOf(err) != connectors.KindRejected {
			t.Errorf("Create in %s: %v, want rejected", domain, err)
		}
	}
	for _, tid := range []string{tenantA, tenantB} {
		us, _ := emu.Users(tid)
		for _, u := range us {
			if strings.HasSuffix(u.UserPrincipalName, "unknown.example") || strings.HasSuffix(u.UserPrincipalName, "pending.contoso.com") {
				t.Errorf("a user of an unverified domain was created in %s: %s", tid, u.UserPrincipalName)
			}
		}
	}

	// A domain verified later is used without waiting for the scheduled
	// refresh: an unknown domain refreshes the list (here at once).
	c.domainMiss = 0
	if err := emu.SetDomains(tenantB, []graphemu.Domain{{Name: "fabrikam.com", Verified: true}, {Name: "northwind.example", Verified: true}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, desired("northwind.example")); err != nil {
		t.Errorf("Check in a domain verified since the last refresh: %v", err)
	}
	// Find searches the tenant the login routes to, and every tenant by mail.
	d := desired("fabrikam.com")
	d.Email = "someone." + unique() + "@elsewhere.example"
	a, err := c.Create(ctx, d, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Find(ctx, "", strings.ToUpper(d.Email)); err != nil || got.ID != a.ID {
		t.Errorf("Find by a mail outside every domain: %+v, %v; want %s", got, err, a.ID)
	}
}

// TestBrokenTenantDoesNotBlockOthers: a tenant whose sign-in fails stops
// only the users routed (or possibly routed) to it, and is not asked for a
// token on every call.
func TestBrokenTenantDoesNotBlockOthers(t *testing.T) {
	emu := startEmu(t, emuConfig())
	cfg := connConfig(emu, tenantA, tenantB)
	cfg.Secrets[tenantB+".clientSecret"] = "wrong"
	c := newConn(t, cfg)
	ctx := t.Context()
	for range 5 {
		if _, err := c.Create(ctx, desired("contoso.com"), goodPassword); err != nil {
			t.Fatalf("Create in the working tenant: %v", err)
		}
	}
	for _, domain := range []string{"fabrikam.com", "unknown.example"} {
		// Whether the domain is tenant B's cannot be known: the failure
		// to sign in to B is the answer, not a refusal.
		if err := c.Check(ctx, desired(domain)); connectors.KindOf(err) != connectors.KindAuth {
			t.Errorf("Check in %s with tenant B broken: %v, want credentials", domain, err)
		}
	}
	if n := emu.TokenRequests(tenantB); n != 1 {
		t.Errorf("%d token requests to the broken tenant over 7 calls, want 1", n)
	}
}

// TestGetUnknownTenant: an id of a tenant the directory does not configure
// names no account here.
func TestGetUnknownTenant(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	for _, id := range []string{tenantB + ":0b1e1b1e-0000-4000-8000-000000000000", "no-colon", tenantA + ":", tenantA + ":a/b"} {
		if _, err := c.Get(t.Context(), id); !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
}

// TestDomainChangeRejected: a new login in another domain is refused with
// the reason; the user is not touched.
func TestDomainChangeRejected(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA, tenantB))
	ctx := t.Context()
	d := desired("contoso.com")
	a, err := c.Create(ctx, d, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"moved." + unique() + "@contoso.onmicrosoft.com", "moved." + unique() + "@fabrikam.com"} {
		given := "Changed"
		err := c.Update(ctx, a.ID, connectors.Patch{Login: &login, GivenName: &given})
		if connectors.KindOf(err) != connectors.KindRejected || err == nil ||
			!strings.HasPrefix(err.Error(), "M365 cannot move a user to another domain by rename") {
			t.Errorf("Update login to %s: %v (kind %v), want rejected as a domain move", login, err, connectors.KindOf(err))
		}
	}
	_, oid := splitID(t, a.ID)
	u, err := emu.User(tenantA, oid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(u.UserPrincipalName, d.Login) || u.GivenName != d.GivenName {
		t.Errorf("a refused update changed the user: %+v", u)
	}
	same := "renamed." + unique() + "@Contoso.com"
	if err := c.Update(ctx, a.ID, connectors.Patch{Login: &same}); err != nil {
		t.Errorf("rename within the domain: %v", err)
	}
	if u, _ := emu.User(tenantA, oid); u.UserPrincipalName != same {
		t.Errorf("after rename the UPN is %q, want %q", u.UserPrincipalName, same)
	}
}

// TestPasswordComplexityRejected: Graph's refusal of a weak password comes
// back as Rejected, in Graph's words.
func TestPasswordComplexityRejected(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	ctx := t.Context()
	const graphSays = "The specified password does not comply with password complexity requirements. Please provide a different password."

	d := desired("contoso.com")
	_, err := c.Create(ctx, d, "weakpass")
	if connectors.KindOf(err) != connectors.KindRejected || err == nil || err.Error() != graphSays {
		t.Errorf("Create with a weak password: %v (kind %v), want rejected with %q", err, connectors.KindOf(err), graphSays)
	}
	if _, err := emu.User(tenantA, d.Login); !errors.Is(err, graphemu.ErrUserNotFound) {
		t.Errorf("the refused user exists: %v", err)
	}
	a, err := c.Create(ctx, d, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetPassword(ctx, a.ID, "alllowercase")
	if connectors.KindOf(err) != connectors.KindRejected || err == nil || err.Error() != graphSays {
		t.Errorf("SetPassword with a weak password: %v (kind %v), want rejected with %q", err, connectors.KindOf(err), graphSays)
	}
	_, oid := splitID(t, a.ID)
	if pw, _ := emu.PasswordOf(tenantA, oid); pw != goodPassword {
		t.Errorf("a refused password change changed the password")
	}
	// The error also says where it came from, for the log.
	var ce *connectors.Error
	if errors.As(err, &ce) && (ce.Err == nil || !strings.Contains(ce.Err.Error(), "Request_BadRequest")) {
		t.Errorf("the wrapped error does not carry Graph's code: %v", ce.Err)
	}
}

// TestCreateAnswersDuringReplication: right after a create, Graph may not
// find the user by id; Create returns the user from the POST's answer, Get
// says not found meanwhile, and Find (a filtered list) sees it.
func TestCreateAnswersDuringReplication(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	ctx := t.Context()
	emu.SetReplicationDelay(time.Hour)

	d := desired("contoso.com")
	d.Enabled = false
	a, err := c.Create(ctx, d, goodPassword)
	if err != nil {
		t.Fatalf("Create while the new user replicates: %v", err)
	}
	if !strings.EqualFold(a.Login, d.Login) || a.Enabled || a.GivenName != d.GivenName || a.DisplayName != d.DisplayName {
		t.Errorf("Create returned %+v for %+v", a, d)
	}
	if _, err := c.Get(ctx, a.ID); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("Get during replication: %v, want ErrNotFound (the emulator hides the user)", err)
	}
	if got, err := c.Find(ctx, d.Login, ""); err != nil || got.ID != a.ID {
		t.Errorf("Find during replication: %+v, %v", got, err)
	}
	emu.SetReplicationDelay(0)
	if got, err := c.Get(ctx, a.ID); err != nil || got.Enabled {
		t.Errorf("Get after replication: %+v, %v", got, err)
	}
}

// TestMailNickname: the alias Graph requires is derived from the login.
func TestMailNickname(t *testing.T) {
	cases := map[string]string{
		"jane.doe@contoso.com":         "jane.doe",
		"o'brien#1@contoso.com":        "obrien1",
		"a..b.@contoso.com":            "a.b",
		strings.Repeat("x", 70) + "@c": strings.Repeat("x", 64),
	}
	for login, want := range cases {
		got := mailNickname(login)
		if got != want {
			t.Errorf("mailNickname(%q) = %q, want %q", login, got, want)
		}
		if got == "" || strings.ContainsAny(got, "@()\\[]\";:<>, ") || len(got) > 64 {
			t.Errorf("mailNickname(%q) = %q is not a valid alias", login, got)
		}
	}
	if a, b := mailNickname("~!^@contoso.com"), mailNickname("^!~@contoso.com"); !strings.HasPrefix(a, "user") || a == b {
		t.Errorf("logins without alias characters get %q and %q, want distinct user… aliases", a, b)
	}
}
