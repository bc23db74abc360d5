package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store"
)

func testGroups(t *testing.T, b Backend) {
	s := b.Open(t)
	name := uniq("Admins")
	g, err := s.CreateGroup(ctx(t), &store.Group{DisplayName: name, ExternalID: uniq("gx")}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || g.GIDNumber == 0 || g.Version == 0 {
		t.Fatalf("group lacks id, gidNumber or version: %+v", g)
	}
	_, err = s.CreateGroup(ctx(t), &store.Group{DisplayName: "ADMINS" + name[6:]}, store.Write{})
	wantConflict(t, err, "displayName")
	_, err = s.CreateGroup(ctx(t), &store.Group{DisplayName: uniq("g"), GIDNumber: g.GIDNumber}, store.Write{})
	wantConflict(t, err, "gidNumber")

	for _, l := range []struct {
		by    store.LookupField
		value string
	}{{store.ByDisplayName, name}, {store.ByExternalID, g.ExternalID}, {store.ByGIDNumber, fmt.Sprint(g.GIDNumber)}} {
		got, err := s.LookupGroup(ctx(t), l.by, l.value)
		if err != nil || got.ID != g.ID {
			t.Fatalf("LookupGroup(%d, %q) = %v, %v", l.by, l.value, got, err)
		}
	}
	renamed := uniq("Operators")
	g2, err := s.UpdateGroup(ctx(t), g.ID, g.Version, func(x *store.Group) (store.Write, error) {
		x.DisplayName = renamed
		return store.Write{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.LookupGroup(ctx(t), store.ByDisplayName, name)
	wantNotFound(t, err)
	if _, err := s.UpdateGroup(ctx(t), g.ID, g.Version, func(*store.Group) (store.Write, error) { return store.Write{}, nil }); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("stale group update: %v", err)
	}
	p, err := s.ListGroups(ctx(t), store.ListOptions{})
	if err != nil || p.Total == 0 {
		t.Fatalf("ListGroups: %v %v", p, err)
	}
	if err := s.DeleteGroup(ctx(t), g.ID, g2.Version, store.Write{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetGroup(ctx(t), g.ID)
	wantNotFound(t, err)
	if _, err := s.CreateGroup(ctx(t), &store.Group{DisplayName: renamed}, store.Write{}); err != nil {
		t.Fatalf("name not freed by delete: %v", err)
	}
}

func testMembership(t *testing.T, b Backend) {
	s := b.Open(t)
	g, err := s.CreateGroup(ctx(t), &store.Group{DisplayName: uniq("big")}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	// More than one transaction's worth of members.
	var ids []string
	var users []*store.User
	for i := 0; i < 130; i++ {
		users = append(users, newUser(uniq("m")))
	}
	created, errs := s.CreateUsers(ctx(t), users, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, created[i].ID)
	}
	if err := s.AddMembers(ctx(t), g.ID, ids, store.Write{}); err != nil {
		t.Fatal(err)
	}
	// Adding again is harmless.
	if err := s.AddMembers(ctx(t), g.ID, ids[:3], store.Write{}); err != nil {
		t.Fatal(err)
	}
	// The group record was not rewritten by membership changes.
	if got, _ := s.GetGroup(ctx(t), g.ID); got.Version != g.Version {
		t.Fatalf("membership change rewrote the group record (%d -> %d)", g.Version, got.Version)
	}
	var all []string
	cursor := ""
	for {
		p, err := s.Members(ctx(t), g.ID, store.ListOptions{After: cursor, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != len(ids) {
			t.Fatalf("Total = %d, want %d", p.Total, len(ids))
		}
		all = append(all, p.Items...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(all) != len(ids) {
		t.Fatalf("paged %d members, want %d", len(all), len(ids))
	}
	if gs, _ := s.GroupsOf(ctx(t), ids[0]); len(gs) != 1 || gs[0] != g.ID {
		t.Fatalf("GroupsOf = %v", gs)
	}
	if err := s.RemoveMembers(ctx(t), g.ID, ids[:100], store.Write{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsMember(ctx(t), g.ID, ids[0]); ok {
		t.Fatal("removed member still a member")
	}
	if ok, _ := s.IsMember(ctx(t), g.ID, ids[120]); !ok {
		t.Fatal("kept member lost")
	}
	// A missing user is named and nothing of its batch is applied.
	err = s.AddMembers(ctx(t), g.ID, []string{ids[0], "no-such-user"}, store.Write{})
	var nf *store.NotFoundError
	if !errors.As(err, &nf) || nf.Key != "no-such-user" {
		t.Fatalf("got %v, want not found naming the user", err)
	}
	if ok, _ := s.IsMember(ctx(t), g.ID, ids[0]); ok {
		t.Fatal("a failed batch was partly applied")
	}
	err = s.AddMembers(ctx(t), "no-such-group", ids[:1], store.Write{})
	wantNotFound(t, err)
	// Deleting the group drops every membership.
	if err := s.DeleteGroup(ctx(t), g.ID, 0, store.Write{}); err != nil {
		t.Fatal(err)
	}
	if gs, _ := s.GroupsOf(ctx(t), ids[120]); len(gs) != 0 {
		t.Fatalf("memberships survived the group: %v", gs)
	}
}

func testServiceAccounts(t *testing.T, b Backend) {
	s := b.Open(t)
	name := uniq("Grafana")
	sa, err := s.CreateServiceAccount(ctx(t), &store.ServiceAccount{Name: name, Roles: []string{"ldap-reader"}}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateServiceAccount(ctx(t), &store.ServiceAccount{Name: "GRAFANA" + name[7:]}, store.Write{})
	wantConflict(t, err, "name")
	got, err := s.LookupServiceAccount(ctx(t), name)
	if err != nil || got.ID != sa.ID || !got.HasRole("ldap-reader") {
		t.Fatalf("LookupServiceAccount: %+v %v", got, err)
	}
	if _, err := s.UpdateServiceAccount(ctx(t), sa.ID, 0, func(x *store.ServiceAccount) (store.Write, error) {
		x.Disabled = true
		return store.Write{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetServiceAccount(ctx(t), sa.ID); !got.Disabled {
		t.Fatal("update lost")
	}
	if p, _ := s.ListServiceAccounts(ctx(t), store.ListOptions{}); p.Total == 0 {
		t.Fatal("ListServiceAccounts empty")
	}
	if err := s.DeleteServiceAccount(ctx(t), sa.ID, store.Write{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.LookupServiceAccount(ctx(t), name)
	wantNotFound(t, err)
}

func testTokens(t *testing.T, b Backend) {
	s := b.Open(t)
	digest := uniq("digest")
	tok, err := s.CreateToken(ctx(t), &store.Token{Name: "ci", Digest: digest, Scopes: []string{"scim"}, Created: time.Now()}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateToken(ctx(t), &store.Token{Name: "dup", Digest: digest}, store.Write{})
	wantConflict(t, err, "digest")
	got, err := s.TokenByDigest(ctx(t), digest)
	if err != nil || got.ID != tok.ID || !got.HasScope("scim") || got.HasScope("admin") {
		t.Fatalf("TokenByDigest: %+v %v", got, err)
	}
	list, _ := s.ListTokens(ctx(t))
	found := false
	for _, x := range list {
		found = found || x.ID == tok.ID
	}
	if !found {
		t.Fatal("ListTokens misses the token")
	}
	if err := s.DeleteToken(ctx(t), tok.ID, store.Write{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.TokenByDigest(ctx(t), digest)
	wantNotFound(t, err)
}

func testChangeGroup(t *testing.T, b Backend) {
	s := b.Open(t)
	g, err := s.CreateGroup(ctx(t), &store.Group{DisplayName: uniq("cg")}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, newUser(uniq("cgm")))
	rename := func(name string) func(*store.Group) (store.Write, error) {
		return func(x *store.Group) (store.Write, error) { x.DisplayName = name; return store.Write{}, nil }
	}
	// A missing user fails the whole change: no rename, no member.
	_, err = s.ChangeGroup(ctx(t), g.ID, 0, rename(uniq("renamed")), []string{u.ID, "ghost"}, nil)
	wantNotFound(t, err)
	got, _ := s.GetGroup(ctx(t), g.ID)
	if got.DisplayName != g.DisplayName {
		t.Fatal("a failed ChangeGroup renamed the group")
	}
	if ok, _ := s.IsMember(ctx(t), g.ID, u.ID); ok {
		t.Fatal("a failed ChangeGroup added a member")
	}
	name := uniq("renamed")
	if _, err := s.ChangeGroup(ctx(t), g.ID, got.Version, rename(name), []string{u.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsMember(ctx(t), g.ID, u.ID); !ok {
		t.Fatal("member not added")
	}
	if _, err := s.ChangeGroup(ctx(t), g.ID, 0, nil, nil, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.IsMember(ctx(t), g.ID, u.ID); ok {
		t.Fatal("member not removed")
	}
	if _, err := s.ChangeGroup(ctx(t), g.ID, 1, nil, nil, nil); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("stale version: %v", err)
	}
}
