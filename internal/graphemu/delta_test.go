package graphemu_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// deltaRound follows nextLinks from start until a deltaLink, returning every item and the
// deltaLink.
func deltaRound(t *testing.T, a *api, start string) ([]map[string]any, string, int) {
	t.Helper()
	var items []map[string]any
	pages := 0
	link := start
	for {
		r := a.get(link)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %v", link, r.status, r.body)
		}
		pages++
		items = append(items, r.values(t)...)
		if next, ok := r.body["@odata.nextLink"].(string); ok {
			if _, both := r.body["@odata.deltaLink"]; both {
				t.Fatal("a page has both nextLink and deltaLink")
			}
			if !strings.Contains(next, "$skiptoken=") {
				t.Fatalf("nextLink without $skiptoken: %s", next)
			}
			link = next
			continue
		}
		dl, ok := r.body["@odata.deltaLink"].(string)
		if !ok || !strings.Contains(dl, "$deltatoken=") {
			t.Fatalf("last page without a deltaLink: %v", r.body)
		}
		return items, dl, pages
	}
}

func byID(items []map[string]any) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, it := range items {
		m[it["id"].(string)] = it
	}
	return m
}

func TestDeltaInitialIncrementalRemoved(t *testing.T) {
	emu := start(t, baseConfig())
	seeded := seedUsers(t, emu, tenantA, "contoso.com", 250)
	a := newAPI(t, emu, tenantA)

	// The SDK spells the function with parentheses; links must keep working in that form.
	items, deltaLink, pages := deltaRound(t, a, "/users/delta()")
	if pages != 3 {
		t.Errorf("initial round took %d pages, want 3", pages)
	}
	if !strings.Contains(deltaLink, "/users/delta()?") {
		t.Errorf("deltaLink %q lost the delta() spelling", deltaLink)
	}
	got := byID(items)
	if len(items) != 250 || len(got) != 250 {
		t.Fatalf("initial round: %d items, %d distinct, want 250", len(items), len(got))
	}
	for _, u := range seeded {
		if got[u.ID] == nil {
			t.Fatalf("user %s missing from the initial round", u.UserPrincipalName)
		}
	}

	// Nothing changed: the next round is empty.
	items, deltaLink, _ = deltaRound(t, a, deltaLink)
	if len(items) != 0 {
		t.Fatalf("round without changes returned %v", items)
	}

	created := a.createUser("newcomer@contoso.com")
	if r := a.patch("/users/"+seeded[1].ID, map[string]any{"jobTitle": "Engineer"}); r.status != 204 {
		t.Fatal(r.body)
	}
	if err := emu.SetAccountEnabled(tenantA, seeded[2].ID, !seeded[2].AccountEnabled); err != nil {
		t.Fatal(err)
	}
	if r := a.do(http.MethodDelete, "/users/"+seeded[3].ID, nil, nil); r.status != 204 {
		t.Fatal(r.body)
	}
	// A PATCH that sets the current value is not a change.
	a.patch("/users/"+seeded[4].ID, map[string]any{"userPrincipalName": seeded[4].UserPrincipalName})

	items, deltaLink, _ = deltaRound(t, a, deltaLink)
	got = byID(items)
	if len(items) != 4 || len(got) != 4 {
		t.Fatalf("incremental round: %v", items)
	}
	if got[created]["userPrincipalName"] != "newcomer@contoso.com" {
		t.Errorf("created user: %v", got[created])
	}
	if got[seeded[1].ID]["jobTitle"] != "Engineer" {
		t.Errorf("patched user: %v", got[seeded[1].ID])
	}
	if got[seeded[2].ID] == nil {
		t.Error("user changed in the portal is missing")
	}
	removed, _ := got[seeded[3].ID]["@removed"].(map[string]any)
	if removed["reason"] != "changed" || len(got[seeded[3].ID]) != 2 {
		t.Errorf("deleted user: %v", got[seeded[3].ID])
	}

	items, _, _ = deltaRound(t, a, deltaLink)
	if len(items) != 0 {
		t.Errorf("changes reported twice: %v", items)
	}
}

func TestDeltaSelectTracksOnlySelected(t *testing.T) {
	emu := start(t, baseConfig())
	seeded := seedUsers(t, emu, tenantA, "contoso.com", 3)
	a := newAPI(t, emu, tenantA)

	items, deltaLink, _ := deltaRound(t, a, "/users/delta?$select=displayName,accountEnabled")
	for _, it := range items {
		if len(it) != 3 || it["displayName"] == nil {
			t.Errorf("initial item %v, want id, displayName, accountEnabled", it)
		}
	}
	if strings.Contains(deltaLink, "$select") {
		t.Errorf("deltaLink %q repeats $select; the state belongs in the token", deltaLink)
	}
	if err := emu.UpdateUser(tenantA, seeded[0].ID, map[string]any{"givenName": "Unselected"}); err != nil {
		t.Fatal(err)
	}
	if err := emu.UpdateUser(tenantA, seeded[1].ID, map[string]any{"displayName": "Renamed"}); err != nil {
		t.Fatal(err)
	}
	items, _, _ = deltaRound(t, a, deltaLink)
	if len(items) != 1 || items[0]["id"] != seeded[1].ID || items[0]["displayName"] != "Renamed" || len(items[0]) != 3 {
		t.Errorf("with $select=displayName,accountEnabled a givenName change must not show: %v", items)
	}
}

func TestDeltaTokenErrors(t *testing.T) {
	emu, clk := startClocked(t, nil)
	seedUsers(t, emu, tenantA, "contoso.com", 2)
	a := newAPI(t, emu, tenantA)
	b := newAPI(t, emu, tenantB)
	_, deltaLink, _ := deltaRound(t, a, "/users/delta")

	a.get("/users/delta?$deltatoken=bogus").wantError(t, 400, "syncStateNotFound", "The delta token is expired")
	b.get(deltaLink).wantError(t, 400, "syncStateNotFound", "sync state")
	a.get("/users/delta?$filter="+"accountEnabled%20eq%20true").wantError(t, 501, "NotImplemented", "$filter")

	// Sync from now: no data, only a deltaLink.
	r := a.get("/users/delta?$deltatoken=latest")
	if len(r.values(t)) != 0 || r.body["@odata.deltaLink"] == nil {
		t.Fatalf("$deltatoken=latest: %v", r.body)
	}
	latest := r.body["@odata.deltaLink"].(string)
	a.createUser("late@contoso.com")
	if items, _, _ := deltaRound(t, a, latest); len(items) != 1 || items[0]["userPrincipalName"] != "late@contoso.com" {
		t.Errorf("after latest: %v", items)
	}

	// Tenant maintenance: 410 Gone with a Location that starts over.
	if err := emu.ResyncDelta(tenantA); err != nil {
		t.Fatal(err)
	}
	r = a.get(deltaLink)
	r.wantError(t, http.StatusGone, "resyncRequired", "reset the sync state")
	loc := r.header.Get("Location")
	if !strings.HasSuffix(loc, "$deltatoken=") {
		t.Fatalf("Location %q does not end with an empty $deltatoken", loc)
	}
	items, fresh, _ := deltaRound(t, a, loc)
	if len(items) != 3 {
		t.Errorf("resync round: %d items, want 3", len(items))
	}

	// Directory delta tokens last seven days.
	clk.Advance(7*24*time.Hour + time.Minute)
	a = newAPI(t, emu, tenantA) // the old access token expired too
	a.get(fresh).wantError(t, 400, "syncStateNotFound", "expired")
}

func TestDeltaPageSizeIsConfigurable(t *testing.T) {
	cfg := baseConfig()
	cfg.DeltaPageSize = 2
	emu := start(t, cfg)
	seedUsers(t, emu, tenantA, "contoso.com", 5)
	a := newAPI(t, emu, tenantA)
	items, _, pages := deltaRound(t, a, "/users/microsoft.graph.delta")
	if len(items) != 5 || pages != 3 {
		t.Errorf("%d items in %d pages, want 5 in 3", len(items), pages)
	}
	// A skiptoken cannot be used as a deltatoken and vice versa.
	r := a.get("/users/delta")
	next := r.body["@odata.nextLink"].(string)
	a.get(strings.Replace(next, "$skiptoken", "$deltatoken", 1)).wantError(t, 400, "syncStateNotFound", "sync state")
}
