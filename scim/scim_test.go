package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/scim"
)

const adminToken = "scim-test-admin-token-0123456789"

type fixture struct {
	t     *testing.T
	url   string
	auth  *authority.Authority
	token string
}

// setup runs the SCIM handler on a real store (embedded etcd) behind a
// real HTTP server on loopback.
func setup(t *testing.T) *fixture {
	t.Helper()
	a, _ := authoritytest.New(t, func(c *authority.Config) { c.AdminToken = adminToken })
	h := scim.New(a, slog.New(slog.DiscardHandler), "")
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	secret, _, err := a.CreateToken(authority.WithActor(context.Background(), authority.Actor{Name: "test"}), "entra", []string{"scim"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, url: hs.URL + "/scim/v2", auth: a, token: secret}
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (f *fixture) do(method, path string, body any, headers ...string) resp {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, f.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+f.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	out := resp{status: r.StatusCode, header: r.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (f *fixture) want(r resp, status int) resp {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func (f *fixture) wantError(r resp, status int, scimType string) {
	f.t.Helper()
	f.want(r, status)
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || r.body["status"] != fmt.Sprint(status) {
		f.t.Fatalf("not a SCIM error body: %s", r.raw)
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		f.t.Fatalf("scimType %q, want %q: %s", got, scimType, r.raw)
	}
	if d, _ := r.body["detail"].(string); d == "" {
		f.t.Fatalf("error without detail: %s", r.raw)
	}
}

func q(filter string) string { return "?filter=" + url.QueryEscape(filter) }

func patchOp(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
}

func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

func total(r resp) int {
	n, _ := r.body["totalResults"].(float64)
	return int(n)
}

// TestEntraValidationSequence replays the requests Microsoft documents for
// Entra ID provisioning (the SCIM validator's steps): create, the
// connection test's filter for a user that does not exist, get by
// userName filter, PATCH replacing attributes (capitalised op names, a
// filtered email path, string booleans), PATCH active false, group
// create, member add and remove, group rename, deletes.
func TestEntraValidationSequence(t *testing.T) {
	f := setup(t)
	// Connection test: a filter that matches nothing is 200 with an empty list.
	r := f.want(f.do("GET", "/Users"+q(`userName eq "non-existent user"`), nil), 200)
	if total(r) != 0 || r.body["Resources"] == nil {
		t.Fatalf("empty filter result: %s", r.raw)
	}
	user := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
		"userName":   "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com",
		"active":     true,
		"emails":     []map[string]any{{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@contoso.com"}},
		"meta":       map[string]any{"resourceType": "User"},
		"name":       map[string]any{"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
		"roles":      []any{},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "Dep", "manager": "e2d9a2c7-0000-0000-0000-000000000000"},
	}
	r = f.want(f.do("POST", "/Users", user), 201)
	id, _ := r.body["id"].(string)
	if id == "" || r.header.Get("Location") == "" || r.header.Get("ETag") == "" || r.body["password"] != nil {
		t.Fatalf("created: %v %s", r.header, r.raw)
	}
	// A second create with the same userName, differing only in case, is a uniqueness conflict.
	dup := map[string]any{"schemas": user["schemas"], "userName": strings.ToUpper(user["userName"].(string))}
	f.wantError(f.do("POST", "/Users", dup), 409, "uniqueness")

	r = f.want(f.do("GET", "/Users"+q(`userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com"`), nil), 200)
	if total(r) != 1 {
		t.Fatalf("filter by userName: %s", r.raw)
	}
	// Entra's non-standard filter form.
	r = f.want(f.do("GET", "/Users"+q(`emails[type eq "work"].value eq "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@contoso.com"`), nil), 200)
	if total(r) != 1 {
		t.Fatalf("Entra email filter: %s", r.raw)
	}
	r = f.want(f.do("GET", "/Users"+q(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), nil), 200)
	if total(r) != 1 {
		t.Fatalf("filter by externalId: %s", r.raw)
	}

	r = f.want(f.do("PATCH", "/Users/"+id, patchOp(
		op("Replace", `emails[type eq "work"].value`, "updatedEmail@contoso.com"),
		op("Replace", "name.familyName", "updatedFamilyName"),
		op("Add", "", map[string]any{"displayName": "Updated Name", "name.givenName": "updatedGiven"}),
		op("Replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "42"),
	)), 200)
	name, _ := r.body["name"].(map[string]any)
	emails, _ := r.body["emails"].([]any)
	if name["familyName"] != "updatedFamilyName" || name["givenName"] != "updatedGiven" || r.body["displayName"] != "Updated Name" ||
		len(emails) != 1 || emails[0].(map[string]any)["value"] != "updatedEmail@contoso.com" {
		t.Fatalf("after PATCH: %s", r.raw)
	}
	if ent, _ := r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any); ent["employeeNumber"] != "42" {
		t.Fatalf("enterprise attribute not patched: %s", r.raw)
	}

	r = f.want(f.do("PATCH", "/Users/"+id, patchOp(op("Replace", "active", "False"))), 200)
	if r.body["active"] != false {
		t.Fatalf("active False: %s", r.raw)
	}
	if u, _ := f.auth.GetUser(context.Background(), id); u.State != authority.StateSuspended {
		t.Fatalf("state %q after active:false", u.State)
	}

	// Groups.
	r = f.want(f.do("POST", "/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
		"displayName": "Group_1", "meta": map[string]any{"resourceType": "Group"},
	}), 201)
	gid, _ := r.body["id"].(string)
	r = f.want(f.do("GET", "/Groups"+q(`displayName eq "Group_1"`)+"&excludedAttributes=members", nil), 200)
	if total(r) != 1 {
		t.Fatalf("group filter: %s", r.raw)
	}
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(op("Add", "members", []map[string]any{{"value": id}}))), 200)
	r = f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	if ms, _ := r.body["members"].([]any); len(ms) != 1 {
		t.Fatalf("member not added: %s", r.raw)
	}
	r = f.want(f.do("GET", "/Users/"+id, nil), 200)
	if gs, _ := r.body["groups"].([]any); len(gs) != 1 {
		t.Fatalf("user.groups: %s", r.raw)
	}
	// Entra removes members with a value list under path "members".
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(op("Remove", "members", []map[string]any{{"value": id}}))), 200)
	r = f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	if ms, _ := r.body["members"].([]any); len(ms) != 0 {
		t.Fatalf("member not removed: %s", r.raw)
	}
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(op("Replace", "displayName", "Group_1_renamed"))), 200)
	if g, _ := f.auth.GetGroup(context.Background(), gid); g.DisplayName != "Group_1_renamed" {
		t.Fatalf("rename: %+v", g)
	}

	f.want(f.do("DELETE", "/Groups/"+gid, nil), 204)
	f.want(f.do("GET", "/Groups/"+gid, nil), 404)
	f.want(f.do("DELETE", "/Users/"+id, nil), 204)
	f.wantError(f.do("GET", "/Users/"+id, nil), 404, "")
}

// TestOktaSequence replays Okta's SCIM 2.0 test flow: paging with count,
// create with password, full PUT updates, deactivate through PUT, group
// rename with its own id in a path-less replace, member adds.
func TestOktaSequence(t *testing.T) {
	f := setup(t)
	for i := 0; i < 5; i++ {
		f.want(f.do("POST", "/Users", map[string]any{
			"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": fmt.Sprintf("okta.user%d@example.com", i),
			"name":     map[string]any{"givenName": "Okta", "familyName": fmt.Sprint(i)},
			"emails":   []map[string]any{{"primary": true, "value": fmt.Sprintf("okta.user%d@example.com", i), "type": "work"}},
			"password": "Okta-Passw0rd-" + fmt.Sprint(i), "active": true,
		}), 201)
	}
	// Stable paging with count.
	seen := map[string]bool{}
	for start := 1; start <= 5; start += 2 {
		r := f.want(f.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=2", start), nil), 200)
		if total(r) != 5 || int(r.body["startIndex"].(float64)) != start {
			t.Fatalf("page at %d: %s", start, r.raw)
		}
		for _, res := range r.body["Resources"].([]any) {
			id := res.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("user %s on two pages", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paging saw %d of 5 users", len(seen))
	}
	r := f.want(f.do("GET", "/Users"+q(`userName eq "okta.user3@example.com"`), nil), 200)
	u := r.body["Resources"].([]any)[0].(map[string]any)
	id := u["id"].(string)
	// Login with the password given at creation.
	if _, err := f.auth.Authenticate(context.Background(), "okta.user3@example.com", "Okta-Passw0rd-3", ""); err != nil {
		t.Fatalf("login with the SCIM password: %v", err)
	}
	// Full PUT: absent attributes are cleared, active false suspends.
	u["name"] = map[string]any{"givenName": "Changed", "familyName": "Name"}
	u["active"] = false
	delete(u, "emails")
	r = f.want(f.do("PUT", "/Users/"+id, u), 200)
	if r.body["active"] != false || r.body["emails"] != nil || r.body["name"].(map[string]any)["givenName"] != "Changed" {
		t.Fatalf("after PUT: %s", r.raw)
	}
	// PUT never creates.
	f.want(f.do("PUT", "/Users/00000000-0000-0000-0000-000000000000", u), 404)

	r = f.want(f.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Okta Group", "members": []any{}}), 201)
	gid := r.body["id"].(string)
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(op("replace", "", map[string]any{"id": gid, "displayName": "Okta Group Renamed"}))), 200)
	f.want(f.do("PATCH", "/Groups/"+gid, patchOp(op("add", "members", []map[string]any{{"value": id, "display": "okta.user3@example.com"}}))), 200)
	r = f.want(f.do("GET", "/Groups/"+gid, nil), 200)
	if r.body["displayName"] != "Okta Group Renamed" || len(r.body["members"].([]any)) != 1 {
		t.Fatalf("group after Okta PATCHes: %s", r.raw)
	}
	// A member that does not exist is a 400, and nothing changes.
	f.wantError(f.do("PATCH", "/Groups/"+gid, patchOp(op("add", "members", []map[string]any{{"value": "ghost"}}))), 400, "invalidValue")
}

func TestVersioningAndErrors(t *testing.T) {
	f := setup(t)
	r := f.want(f.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "etag.user"}), 201)
	id, tag := r.body["id"].(string), r.header.Get("ETag")
	f.want(f.do("GET", "/Users/"+id, nil, "If-None-Match", tag), 304)
	f.want(f.do("PATCH", "/Users/"+id, patchOp(op("replace", "title", "A")), "If-Match", tag), 200)
	f.want(f.do("PATCH", "/Users/"+id, patchOp(op("replace", "title", "B")), "If-Match", tag), 412)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"bad filter", "GET", "/Users" + q(`userName eq`), nil, 400, "invalidFilter"},
		{"unknown attribute in filter", "GET", "/Users" + q(`shoeSize gt 40`), nil, 400, "invalidFilter"},
		{"malformed JSON", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
		{"userName wrong type", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":42}`, 400, "invalidValue"},
		{"weak password", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"weak","password":"password"}`, 400, "invalidValue"},
		{"patch without schemas", "PATCH", "/Users/" + id, `{"Operations":[{"op":"add","path":"title","value":"x"}]}`, 400, "invalidSyntax"},
		{"patch bad path", "PATCH", "/Users/" + id, patchOp(op("replace", "emails[type eq", "x")), 400, "invalidPath"},
		{"patch no target", "PATCH", "/Users/" + id, patchOp(op("remove", "", nil)), 400, "noTarget"},
		{"patch read-only", "PATCH", "/Users/" + id, patchOp(op("replace", "id", "other")), 400, "mutability"},
		{"patch filter matches nothing", "PATCH", "/Users/" + id, patchOp(op("replace", `phoneNumbers[type eq "fax"]`, map[string]any{"value": "1"})), 400, "noTarget"},
		{"huge body", "POST", "/Users", `{"userName":"` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
		{"wrong content type", "POST", "/Users", nil, 415, ""},
		{"bad count", "GET", "/Users?count=abc", nil, 400, "invalidValue"},
		{"bad sortBy", "GET", "/Users?sortBy=shoeSize", nil, 400, "invalidValue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			var hdr []string
			body := tc.body
			if tc.name == "wrong content type" {
				body = `<user/>`
				hdr = []string{"Content-Type", "application/xml"}
			}
			f.wantError(f.do(tc.method, tc.path, body, hdr...), tc.status, tc.scimType)
		})
	}
	// None of the failed PATCHes changed the user.
	f.t = t
	r = f.want(f.do("GET", "/Users/"+id, nil), 200)
	if r.body["title"] != "A" {
		t.Fatalf("a failed PATCH changed the user: %s", r.raw)
	}
}

func TestAuthAndDiscovery(t *testing.T) {
	f := setup(t)
	tok := f.token
	f.token = ""
	r := f.do("GET", "/Users", nil)
	f.wantError(r, 401, "")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatal("401 without WWW-Authenticate")
	}
	f.token = "wrong"
	f.wantError(f.do("GET", "/Users", nil), 401, "")
	f.token = tok
	r = f.want(f.do("GET", "/ServiceProviderConfig", nil), 200)
	if r.body["patch"].(map[string]any)["supported"] != true || r.body["filter"].(map[string]any)["maxResults"] == nil {
		t.Fatalf("ServiceProviderConfig: %s", r.raw)
	}
	r = f.want(f.do("GET", "/Schemas", nil), 200)
	if total(r) != 5 {
		t.Fatalf("Schemas: %d", total(r))
	}
	f.want(f.do("GET", "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", nil), 200)
	r = f.want(f.do("GET", "/ResourceTypes", nil), 200)
	if total(r) != 2 {
		t.Fatalf("ResourceTypes: %s", r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// TestAuditNamesToken checks the end-to-end promise: a user created by
// SCIM with a password can be found by id and by filter, is suspended by
// active false, and each change is in the audit log with the token name.
func TestAuditNamesToken(t *testing.T) {
	f := setup(t)
	r := f.want(f.do("POST", "/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "audited", "password": "Audited-Pass-2026",
	}), 201)
	id := r.body["id"].(string)
	f.want(f.do("GET", "/Users/"+id, nil), 200)
	if total(f.want(f.do("GET", "/Users"+q(`userName eq "AUDITED"`), nil), 200)) != 1 {
		t.Fatal("case-insensitive userName filter missed")
	}
	f.want(f.do("PATCH", "/Users/"+id, patchOp(op("replace", "active", false))), 200)
	if _, err := f.auth.Authenticate(context.Background(), "audited", "Audited-Pass-2026", ""); err == nil {
		t.Fatal("a suspended user could log in")
	}
	time.Sleep(time.Millisecond)
	evs, err := f.auth.Audit(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		if e.TargetID == id {
			actions = append(actions, e.Action)
			if e.Actor != "token:entra" || e.Source != "127.0.0.1" {
				t.Fatalf("audit event without the token or source: %+v", e)
			}
		}
	}
	if strings.Join(actions, ",") != "user.update,user.create" {
		t.Fatalf("audit actions for the user: %v", actions)
	}
}
