package m365

import (
	"fmt"
	"strings"
	"testing"

	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/internal/graphemu"
)

// TestListPaging: more users than one page of 999 are each listed once;
// guests are left out.
func TestListPaging(t *testing.T) {
	cfg := emuConfig()
	for i := range 1200 {
		cfg.Tenants[0].Users = append(cfg.Tenants[0].Users, graphemu.NewUser{
			UserPrincipalName: fmt.Sprintf("seeded%04d@contoso.com", i), AccountEnabled: i%2 == 0,
		})
	}
	emu := startEmu(t, cfg)
	guest, err := emu.AddUser(tenantA, graphemu.NewUser{UserPrincipalName: "guest_example.org#EXT#@contoso.onmicrosoft.com", AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.UpdateUser(tenantA, guest.ID, map[string]any{"userType": "Guest"}); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.AddUser(tenantB, graphemu.NewUser{UserPrincipalName: "only@fabrikam.com", AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	c := newConn(t, connConfig(emu, tenantA, tenantB))

	seen := map[string]int{}
	enabled := 0
	err = c.List(t.Context(), func(a connectors.Account) error {
		seen[a.ID]++
		if a.Enabled {
			enabled++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(seen) != 1201 {
		t.Errorf("List saw %d accounts, want 1200 of tenant A and 1 of tenant B", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	if seen[tenantA+":"+guest.ID] != 0 {
		t.Error("List reported a guest")
	}
	if err := emu.UpdateUser(tenantA, guest.ID, map[string]any{"mail": "guest@example.org"}); err != nil {
		t.Fatal(err)
	}
	if a, err := c.Find(t.Context(), "", "guest@example.org"); err == nil {
		t.Errorf("Find by a guest's mail returned %+v, want not found", a)
	}
	if enabled != 601 {
		t.Errorf("%d enabled accounts listed, want 601 (accountEnabled must be selected)", enabled)
	}
	pages := 0
	for _, r := range emu.Requests() {
		if r.Method == "GET" && r.Path == "/v1.0/users" && r.Tenant == tenantA && !strings.Contains(r.Query, "filter") {
			pages++
			if !strings.Contains(r.Query, "skiptoken") && !strings.Contains(r.Query, "top=999") {
				t.Errorf("first page asked without $top=999: %s", r.Query)
			}
		}
	}
	if pages != 2 {
		t.Errorf("%d pages of tenant A, want 2", pages)
	}
}

// TestChangesPagingAndResync: a delta round over several pages is
// followed to its deltaLink; a tenant whose delta token Graph dropped is
// read again from scratch, and a cursor that is not one starts over.
func TestChangesPagingAndResync(t *testing.T) {
	cfg := emuConfig()
	cfg.DeltaPageSize = 2
	emu := startEmu(t, cfg)
	c := newConn(t, connConfig(emu, tenantA, tenantB))
	ctx := t.Context()

	_, cur, err := c.Changes(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 5 {
		a, err := c.Create(ctx, desired("contoso.com"), goodPassword)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	b, err := c.Create(ctx, desired("fabrikam.com"), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	accts, cur2, err := c.Changes(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	got := lastByID(accts)
	for _, id := range append(ids, b.ID) {
		if a, ok := got[id]; !ok || a.Deleted || !a.Enabled || a.Login == "" {
			t.Errorf("created account %s among the changes as %+v (%v)", id, a, ok)
		}
	}

	accts, _, err = c.Changes(ctx, cur2)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 0 {
		t.Errorf("no change since the last cursor, yet %d accounts", len(accts))
	}

	if err := emu.ResyncDelta(tenantA); err != nil {
		t.Fatal(err)
	}
	accts, cur3, err := c.Changes(ctx, cur2)
	if err != nil {
		t.Fatalf("Changes after Graph dropped the delta token: %v", err)
	}
	if got := lastByID(accts); len(got) != len(ids) {
		t.Errorf("after a resync %d accounts reported, want the %d users of tenant A", len(got), len(ids))
	}
	if accts, _, err := c.Changes(ctx, cur3); err != nil || len(accts) != 0 {
		t.Errorf("after the resync the feed goes on: %d accounts, %v", len(accts), err)
	}

	accts, cur4, err := c.Changes(ctx, "not a cursor")
	if err != nil || len(accts) != 0 || cur4 == "" {
		t.Errorf("Changes with an unreadable cursor: %d accounts, %q, %v; want a fresh start", len(accts), cur4, err)
	}
}

func lastByID(accts []connectors.Account) map[string]connectors.Account {
	m := map[string]connectors.Account{}
	for _, a := range accts {
		m[a.ID] = a
	}
	return m
}
