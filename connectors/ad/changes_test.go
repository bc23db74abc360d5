package ad

import (
	"context"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// The change feed reports what an administrator does in AD itself: an
// attribute changed, an account deleted; and nothing about accounts
// outside the directory's OUs. It runs on DirSync and, as when the DC
// refuses DirSync, on uSNChanged.
func TestChangesBehindTheBack(t *testing.T) {
	for _, feed := range []struct{ name, prefix string }{{"DirSync", dirSyncPrefix}, {"uSNChanged", usnPrefix}} {
		t.Run(feed.name, func(t *testing.T) {
			c := newConn(t, nil)
			c.noDirSync.Store(feed.prefix == usnPrefix)
			changed := create(t, c, desired())
			gone := create(t, c, desired())
			quiet := create(t, c, desired())
			// An account outside userOU and importOUs, in CN=Users.
			outside := newConn(t, func(s *Settings) { s.UserOU = "CN=Users," + dc.BaseDN })
			elsewhere := create(t, outside, desired())

			accts, cur, err := c.Changes(t.Context(), "")
			if err != nil {
				t.Fatalf("Changes(\"\"): %v", err)
			}
			if len(accts) != 0 || !strings.HasPrefix(cur, feed.prefix) {
				t.Fatalf("starting the feed: %d accounts, cursor %q; want none and a %s cursor", len(accts), cur, feed.prefix)
			}

			given := "Changed" + unique()
			adminModify(t, changed.ID, func(m *ldap.ModifyRequest) { m.Replace("givenName", []string{given}) })
			adminModify(t, elsewhere.ID, func(m *ldap.ModifyRequest) { m.Replace("givenName", []string{given}) })
			l := admin(t)
			e, err := byGUID(l, gone.ID)
			if err != nil || e == nil {
				t.Fatalf("admin read of %s: %v", gone.ID, err)
			}
			if err := l.Del(ldap.NewDelRequest(e.DN, nil)); err != nil {
				t.Fatalf("admin delete of %s: %v", e.DN, err)
			}

			accts, next, err := c.Changes(t.Context(), cur)
			if err != nil {
				t.Fatalf("Changes: %v", err)
			}
			if !strings.HasPrefix(next, feed.prefix) {
				t.Errorf("next cursor %q, want a %s cursor", next, feed.prefix)
			}
			got := lastByID(accts)
			if a, ok := got[changed.ID]; !ok || a.GivenName != given || a.Deleted || a.Login != changed.Login || a.Email != changed.Email {
				t.Errorf("the account changed in AD: %+v (reported %v), want given name %q and the rest of the account", a, ok, given)
			}
			if a, ok := got[gone.ID]; !ok || !a.Deleted {
				t.Errorf("the account deleted in AD: %+v (reported %v), want Deleted", a, ok)
			}
			if a, ok := got[elsewhere.ID]; ok {
				t.Errorf("an account outside the directory's OUs was reported: %+v", a)
			}
			if a, ok := got[quiet.ID]; ok && feed.prefix == dirSyncPrefix {
				t.Errorf("an account nobody touched was reported: %+v", a)
			}

			// Nothing happened since: the next call reports nothing of
			// ours.
			accts, _, err = c.Changes(t.Context(), next)
			if err != nil {
				t.Fatalf("Changes again: %v", err)
			}
			for _, a := range accts {
				if a.ID == changed.ID || a.ID == gone.ID {
					t.Errorf("reported again with nothing changed: %+v", a)
				}
			}
		})
	}
}

// A cursor the connector cannot read starts the feed again rather than
// stopping it for good.
func TestChangesBadCursor(t *testing.T) {
	c := newConn(t, nil)
	for _, cur := range []string{"garbage", dirSyncPrefix + "!!!", usnPrefix + "x"} {
		accts, next, err := c.Changes(t.Context(), cur)
		if err != nil || len(accts) != 0 || next == "" {
			t.Errorf("Changes(%q) = %d accounts, %q, %v; want a fresh cursor", cur, len(accts), next, err)
		}
	}
}

func lastByID(accts []connectors.Account) map[string]connectors.Account {
	m := map[string]connectors.Account{}
	for _, a := range accts {
		m[a.ID] = a
	}
	return m
}

// A bind account without "Replicating Directory Changes" gets no DirSync
// from the DC; the feed follows uSNChanged instead and still sees changes.
func TestChangesFallBackToUSN(t *testing.T) {
	c := newConn(t, nil)
	svcD := desired()
	pw := goodPassword()
	svc, err := c.Create(t.Context(), svcD, pw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(context.Background(), svc.ID) })
	target := create(t, c, desired())

	weak, err := New(t.Context(), connConfig(settings(func(s *Settings) { s.BindDN = svcD.Login }), pw))
	if err != nil {
		t.Fatal(err)
	}
	defer weak.Close()
	_, cur, err := weak.Changes(t.Context(), "")
	if err != nil {
		t.Fatalf("Changes(\"\") as an ordinary user: %v", err)
	}
	if !strings.HasPrefix(cur, usnPrefix) {
		t.Fatalf("cursor %q, want the uSNChanged feed after DirSync was refused", cur)
	}
	sn := "Renamed" + unique()
	adminModify(t, target.ID, func(m *ldap.ModifyRequest) { m.Replace("sn", []string{sn}) })
	accts, _, err := weak.Changes(t.Context(), cur)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if a, ok := lastByID(accts)[target.ID]; !ok || a.FamilyName != sn {
		t.Errorf("the account changed in AD: %+v (reported %v), want family name %q", a, ok, sn)
	}
}
