package graphemu_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headwater/headwater/internal/graphemu"
)

func TestCreateUser(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	r := a.post("/users", newUserBody("adele@contoso.com"))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %v", r.status, r.body)
	}
	id, _ := r.body["id"].(string)
	if len(id) != 36 {
		t.Errorf("id %q is not a GUID", id)
	}
	if ctx, _ := r.body["@odata.context"].(string); !strings.HasSuffix(ctx, "/v1.0/$metadata#users/$entity") {
		t.Errorf("@odata.context = %q", ctx)
	}
	if _, ok := r.body["accountEnabled"]; ok {
		t.Error("accountEnabled is returned without $select; Graph v1.0 returns it only when selected")
	}
	if r.body["userPrincipalName"] != "adele@contoso.com" || r.body["displayName"] != "User adele" {
		t.Errorf("body %v", r.body)
	}
	if pw, err := emu.PasswordOf(tenantA, "ADELE@contoso.com"); err != nil || pw != goodPW {
		t.Errorf("PasswordOf = %q, %v", pw, err)
	}
	if u, err := emu.User(tenantA, id); err != nil || !u.AccountEnabled || u.MailNickname != "adele" {
		t.Errorf("User = %+v, %v", u, err)
	}
}

func TestCreateUserErrors(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	a.createUser("taken@contoso.com")
	if r := a.patch("/users/taken@contoso.com", map[string]any{"mail": "taken@contoso.com"}); r.status != 204 {
		t.Fatalf("set mail: %d %v", r.status, r.body)
	}
	with := func(edit func(map[string]any)) map[string]any {
		b := newUserBody("new@contoso.com")
		edit(b)
		return b
	}
	pw := func(p string) func(map[string]any) {
		return func(b map[string]any) { b["passwordProfile"] = map[string]any{"password": p} }
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"duplicate UPN, other case", with(func(b map[string]any) { b["userPrincipalName"] = "TAKEN@contoso.com" }),
			400, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists."},
		{"unverified domain", with(func(b map[string]any) { b["userPrincipalName"] = "x@pending.contoso.com" }),
			400, "Request_BadRequest", "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."},
		{"foreign domain", with(func(b map[string]any) { b["userPrincipalName"] = "x@fabrikam.com" }),
			400, "Request_BadRequest", "The domain portion of the userPrincipalName property is invalid."},
		{"UPN without @", with(func(b map[string]any) { b["userPrincipalName"] = "nobody" }),
			400, "Request_BadRequest", "Property userPrincipalName is invalid."},
		{"UPN with accent", with(func(b map[string]any) { b["userPrincipalName"] = "zoë@contoso.com" }),
			400, "Request_BadRequest", "Property userPrincipalName is invalid."},
		{"password too short", with(pw("Ab1!xyz")), 400, "Request_BadRequest",
			"The specified password does not comply with password complexity requirements. Please provide a different password."},
		{"password with two classes", with(pw("alllowercase123")), 400, "Request_BadRequest", "does not comply with password complexity"},
		{"no password", with(func(b map[string]any) { delete(b, "passwordProfile") }), 400, "Request_BadRequest",
			"A password must be specified to create a new user."},
		{"no displayName", with(func(b map[string]any) { delete(b, "displayName") }), 400, "Request_BadRequest",
			"Invalid value specified for property 'displayName' of resource 'User'."},
		{"no mailNickname", with(func(b map[string]any) { delete(b, "mailNickname") }), 400, "Request_BadRequest", "'mailNickname'"},
		{"no accountEnabled", with(func(b map[string]any) { delete(b, "accountEnabled") }), 400, "Request_BadRequest", "'accountEnabled'"},
		{"no userPrincipalName", with(func(b map[string]any) { delete(b, "userPrincipalName") }), 400, "Request_BadRequest", "'userPrincipalName'"},
		{"mailNickname with space", with(func(b map[string]any) { b["mailNickname"] = "a b" }), 400, "Request_BadRequest", "'mailNickname'"},
		{"mail of another user", with(func(b map[string]any) { b["mail"] = "taken@contoso.com" }), 400, "Request_BadRequest",
			"Another object with the same value for property proxyAddresses already exists."},
		{"unknown property", with(func(b map[string]any) { b["favouriteColour"] = "red" }), 400, "Request_BadRequest",
			"Property 'favouriteColour' does not exist as a declared property or extension property."},
		{"wrong type", with(func(b map[string]any) { b["accountEnabled"] = "yes" }), 400, "BadRequest", "Edm.Boolean"},
		{"not JSON", []byte("{accountEnabled"), 400, "BadRequest", "Unable to read JSON request payload."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.post("/users", tc.body).wantError(t, tc.status, tc.code, tc.msg)
		})
	}
	users, _ := emu.Users(tenantA)
	if len(users) != 1 {
		t.Errorf("%d users after rejected creates, want 1", len(users))
	}
}

func TestGetPatchDeleteUser(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	id := a.createUser("megan@contoso.com")
	a.createUser("other@contoso.com")

	for _, key := range []string{id, "megan@contoso.com", "MEGAN@CONTOSO.COM", strings.ToUpper(id)} {
		r := a.get("/users/" + url.PathEscape(key))
		if r.status != 200 || r.body["id"] != id {
			t.Errorf("GET /users/%s: %d %v", key, r.status, r.body)
		}
	}

	r := a.get("/users/" + id + "?$select=accountEnabled,displayName")
	if r.status != 200 || len(r.body) != 3 || r.body["accountEnabled"] != true || r.body["displayName"] != "User megan" {
		t.Errorf("$select: %v", r.body)
	}
	if ctx := r.body["@odata.context"].(string); !strings.HasSuffix(ctx, "#users(accountEnabled,displayName)/$entity") {
		t.Errorf("@odata.context = %q", ctx)
	}
	a.get("/users/"+id+"?$select=shoeSize").wantError(t, 400, "BadRequest", "Could not find a property named 'shoeSize'")

	r = a.patch("/users/"+id, map[string]any{
		"accountEnabled": false, "displayName": "Megan B", "givenName": "Megan", "surname": "Bowen",
		"mail": "megan.bowen@contoso.com", "mailNickname": "meganb", "userPrincipalName": "meganb@contoso.com",
		"passwordProfile": map[string]any{"password": "An0ther-Secret", "forceChangePasswordNextSignIn": true},
	})
	if r.status != http.StatusNoContent || r.body != nil {
		t.Fatalf("PATCH: %d %v", r.status, r.body)
	}
	u, err := emu.User(tenantA, "meganb@contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	want := graphemu.User{ID: id, UserPrincipalName: "meganb@contoso.com", DisplayName: "Megan B", GivenName: "Megan",
		Surname: "Bowen", Mail: "megan.bowen@contoso.com", MailNickname: "meganb", AccountEnabled: false,
		ForceChangePasswordNextSignIn: true, PasswordChanges: 1}
	if u != want {
		t.Errorf("after PATCH\n got %+v\nwant %+v", u, want)
	}
	if pw, _ := emu.PasswordOf(tenantA, id); pw != "An0ther-Secret" {
		t.Errorf("PasswordOf = %q", pw)
	}
	a.get("/users/megan@contoso.com").wantError(t, 404, "Request_ResourceNotFound", "Resource 'megan@contoso.com' does not exist")

	// Rejected PATCHes change nothing.
	a.patch("/users/"+id, map[string]any{"displayName": "Changed", "passwordProfile": map[string]any{"password": "weak"}}).
		wantError(t, 400, "Request_BadRequest", "password complexity")
	a.patch("/users/"+id, map[string]any{"userPrincipalName": "other@contoso.com"}).
		wantError(t, 400, "Request_BadRequest", "Another object with the same value for property userPrincipalName")
	a.patch("/users/"+id, map[string]any{"userPrincipalName": "m@pending.contoso.com"}).
		wantError(t, 400, "Request_BadRequest", "domain portion")
	a.patch("/users/"+id, map[string]any{"id": "x"}).wantError(t, 400, "Request_BadRequest", "read-only")
	if u2, _ := emu.User(tenantA, id); u2 != want {
		t.Errorf("a rejected PATCH changed the user: %+v", u2)
	}

	if r := a.do(http.MethodDelete, "/users/"+id, nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", r.status, r.body)
	}
	a.get("/users/"+id).wantError(t, 404, "Request_ResourceNotFound",
		"Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
	a.do(http.MethodDelete, "/users/"+id, nil, nil).wantError(t, 404, "Request_ResourceNotFound", id)
	a.patch("/users/"+id, map[string]any{"displayName": "x"}).wantError(t, 404, "Request_ResourceNotFound", id)
}

func TestListPagingSeesEachUserOnce(t *testing.T) {
	emu := start(t, baseConfig())
	seeded := seedUsers(t, emu, tenantA, "contoso.com", 250)
	a := newAPI(t, emu, tenantA)

	seen := map[string]int{}
	var sizes []int
	next := "/users?$top=100&$select=id,userPrincipalName"
	for next != "" {
		r := a.get(next)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %v", next, r.status, r.body)
		}
		vals := r.values(t)
		sizes = append(sizes, len(vals))
		for _, v := range vals {
			seen[v["id"].(string)]++
			if len(v) != 2 {
				t.Errorf("$select not honoured on a later page: %v", v)
			}
		}
		next, _ = r.body["@odata.nextLink"].(string)
		if next != "" && (!strings.HasPrefix(next, emu.GraphURL()+"/users?") || !strings.Contains(next, "$skiptoken=")) {
			t.Fatalf("nextLink %q is not an absolute users URL with a $skiptoken", next)
		}
		// A user added mid-iteration must neither break nor duplicate paging.
		if len(sizes) == 1 {
			seedUsers(t, emu, tenantA, "contoso.onmicrosoft.com", 1)
		}
	}
	// The user added after page one lands before or after the cursor depending on its id.
	if len(sizes) != 3 || sizes[0] != 100 || sizes[1] != 100 || (sizes[2] != 50 && sizes[2] != 51) {
		t.Errorf("page sizes %v, want [100 100 50|51]", sizes)
	}
	for _, u := range seeded {
		if seen[u.ID] != 1 {
			t.Errorf("user %s seen %d times", u.UserPrincipalName, seen[u.ID])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("id %s seen %d times", id, n)
		}
	}

	if r := a.get("/users"); len(r.values(t)) != 100 || r.body["@odata.nextLink"] == nil {
		t.Errorf("default page size: %d values, nextLink %v", len(r.values(t)), r.body["@odata.nextLink"])
	}
	if r := a.get("/users?$top=999"); len(r.values(t)) != 251 || r.body["@odata.nextLink"] != nil {
		t.Errorf("$top=999: %d values, nextLink %v", len(r.values(t)), r.body["@odata.nextLink"])
	}
	for _, top := range []string{"0", "1000", "ten"} {
		a.get("/users?$top="+top).wantError(t, 400, "Request_UnsupportedQuery", "Invalid page size specified")
	}
	a.get("/users?$skiptoken=garbage").wantError(t, 400, "Directory_ExpiredPageToken", "page token")
	a.get("/users?$orderby=displayName").wantError(t, 501, "NotImplemented", "$orderby")
	a.get("/users?$skip=10").wantError(t, 400, "BadRequest", "$skip")
}

func TestListFilter(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	seedUsers(t, emu, tenantA, "contoso.com", 6) // user000..005, even ones enabled
	if _, err := emu.AddUser(tenantA, graphemu.NewUser{UserPrincipalName: "o'brien@contoso.com", AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter string
		want   []string // UPN local parts
	}{
		{"userPrincipalName eq 'user003@contoso.com'", []string{"user003"}},
		{"userPrincipalName eq 'USER003@CONTOSO.COM'", []string{"user003"}},
		{"mail eq 'user004@contoso.com'", []string{"user004"}},
		{"startswith(userPrincipalName,'user00')", []string{"user000", "user001", "user002", "user003", "user004", "user005"}},
		{"accountEnabled eq false", []string{"user001", "user003", "user005"}},
		{"accountEnabled eq true and startswith(userPrincipalName,'user')", []string{"user000", "user002", "user004"}},
		{"mail eq 'user001@contoso.com' or mail eq 'user002@contoso.com'", []string{"user001", "user002"}},
		{"userPrincipalName eq 'o''brien@contoso.com'", []string{"o'brien"}},
		{"userPrincipalName eq 'nobody@contoso.com'", nil},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			r := a.get("/users?$filter=" + url.QueryEscape(tc.filter))
			if r.status != 200 {
				t.Fatalf("status %d: %v", r.status, r.body)
			}
			var got []string
			for _, v := range r.values(t) {
				local, _, _ := strings.Cut(v["userPrincipalName"].(string), "@")
				got = append(got, local)
			}
			if !sameSet(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	bad := []struct {
		filter, code, msg string
	}{
		{"accountEnabled ne true", "Request_UnsupportedQuery", "Unsupported property filter clause operator 'NotEqualsMatch'."},
		{"endswith(mail,'@contoso.com')", "Request_UnsupportedQuery", "endswith"},
		{"jobTitle eq 'CEO'", "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'."},
		{"shoeSize eq 42", "BadRequest", "Could not find a property named 'shoeSize'"},
		{"userPrincipalName eq", "BadRequest", "Invalid filter clause"},
		{"accountEnabled eq 'yes'", "BadRequest", "incompatible types"},
		{"(mail eq 'a'", "BadRequest", "Invalid filter clause"},
		{"not(accountEnabled eq true)", "Request_UnsupportedQuery", "not"},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.filter, func(t *testing.T) {
			a.get("/users?$filter="+url.QueryEscape(tc.filter)).wantError(t, 400, tc.code, tc.msg)
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestCountNeedsEventualConsistency(t *testing.T) {
	emu := start(t, baseConfig())
	seedUsers(t, emu, tenantA, "contoso.com", 3)
	a := newAPI(t, emu, tenantA)
	a.get("/users?$count=true").wantError(t, 400, "Request_BadRequest", "$count is not currently supported.")
	r := a.do(http.MethodGet, "/users?$count=true&$top=1", nil, map[string]string{"ConsistencyLevel": "eventual"})
	if r.status != 200 || r.body["@odata.count"] != float64(3) || len(r.values(t)) != 1 {
		t.Errorf("$count with ConsistencyLevel: %d %v", r.status, r.body)
	}
}

func TestGzipRequestBody(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	raw, _ := json.Marshal(newUserBody("zipped@contoso.com"))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	r := a.do(http.MethodPost, "/users", buf.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if r.status != http.StatusCreated || r.body["userPrincipalName"] != "zipped@contoso.com" {
		t.Fatalf("gzip POST: %d %v", r.status, r.body)
	}
	// The same bytes without the header are not JSON.
	a.do(http.MethodPost, "/users", buf.Bytes(), nil).wantError(t, 400, "BadRequest", "Unable to read JSON")
	a.do(http.MethodPost, "/users", raw, map[string]string{"Content-Encoding": "gzip"}).wantError(t, 400, "BadRequest", "decompressed")
}

func TestReplicationDelay(t *testing.T) {
	emu, clk := startClocked(t, nil)
	a := newAPI(t, emu, tenantA)
	emu.SetReplicationDelay(30 * time.Second)
	id := a.createUser("fresh@contoso.com")

	a.get("/users/"+id).wantError(t, 404, "Request_ResourceNotFound", id)
	a.get("/users/fresh@contoso.com").wantError(t, 404, "Request_ResourceNotFound", "fresh@contoso.com")
	a.patch("/users/"+id, map[string]any{"displayName": "x"}).wantError(t, 404, "Request_ResourceNotFound", id)
	if r := a.get("/users?$filter=" + url.QueryEscape("userPrincipalName eq 'fresh@contoso.com'")); len(r.values(t)) != 1 {
		t.Errorf("list during the delay: %v", r.body)
	}
	// A second create with the same UPN conflicts even while the first is not readable.
	a.post("/users", newUserBody("fresh@contoso.com")).wantError(t, 400, "Request_BadRequest", "already exists")

	clk.Advance(30 * time.Second)
	if r := a.get("/users/" + id); r.status != 200 {
		t.Errorf("after the delay: %d %v", r.status, r.body)
	}

	id2 := a.createUser("fresh2@contoso.com")
	a.get("/users/"+id2).wantError(t, 404, "Request_ResourceNotFound", id2)
	emu.SetReplicationDelay(0)
	if r := a.get("/users/" + id2); r.status != 200 {
		t.Errorf("after turning the delay off: %d", r.status)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	b := newAPI(t, emu, tenantB)
	idA := a.createUser("alice@contoso.com")
	b.createUser("bob@fabrikam.com")

	if r := b.get("/users"); len(r.values(t)) != 1 || r.values(t)[0]["userPrincipalName"] != "bob@fabrikam.com" {
		t.Errorf("tenant B sees %v", r.body)
	}
	b.get("/users/"+idA).wantError(t, 404, "Request_ResourceNotFound", idA)
	b.post("/users", newUserBody("eve@contoso.com")).wantError(t, 400, "Request_BadRequest", "domain portion")
	if us, _ := emu.Users(tenantB); len(us) != 1 {
		t.Errorf("Users(B) = %v", us)
	}
}

func TestDomains(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	r := a.get("/domains")
	got := map[string][2]bool{}
	for _, d := range r.values(t) {
		got[d["id"].(string)] = [2]bool{d["isVerified"].(bool), d["isDefault"].(bool)}
	}
	want := map[string][2]bool{
		"contoso.onmicrosoft.com": {true, false},
		"contoso.com":             {true, true},
		"pending.contoso.com":     {false, false},
	}
	if len(got) != len(want) {
		t.Fatalf("domains %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: (verified, default) = %v, want %v", k, got[k], v)
		}
	}
	if r := a.get("/domains/contoso.com"); r.status != 200 || r.body["isDefault"] != true {
		t.Errorf("GET /domains/contoso.com: %d %v", r.status, r.body)
	}
	a.get("/domains/nope.com").wantError(t, 404, "Request_ResourceNotFound", "nope.com")

	if err := emu.SetDomains(tenantA, []graphemu.Domain{{Name: "pending.contoso.com", Verified: true}}); err != nil {
		t.Fatal(err)
	}
	if r := a.post("/users", newUserBody("now@pending.contoso.com")); r.status != 201 {
		t.Errorf("after verifying the domain: %d %v", r.status, r.body)
	}
}

func TestRoutingErrors(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	a.get("/groups").wantError(t, 400, "BadRequest", "Resource not found for the segment 'groups'.")
	a.do(http.MethodPut, "/users", nil, nil).wantError(t, 405, "Request_BadRequest", "Specified HTTP method is not allowed")
	a.get("/users/x/manager").wantError(t, 501, "NotImplemented", "manager")
}

func TestRequestCountsAndReset(t *testing.T) {
	cfg := baseConfig()
	cfg.Tenants[0].Users = []graphemu.NewUser{{UserPrincipalName: "seed@contoso.com", AccountEnabled: true}}
	emu := start(t, cfg)
	a := newAPI(t, emu, tenantA)
	id := a.createUser("temp@contoso.com")
	a.get("/users/" + id)
	a.get("/users/" + id)
	if n := emu.RequestCount("GET", "/v1.0/users/"+id); n != 2 {
		t.Errorf("RequestCount(GET user) = %d, want 2", n)
	}
	if n := emu.RequestCount("POST", "/v1.0/users"); n != 1 {
		t.Errorf("RequestCount(POST users) = %d, want 1", n)
	}
	recs := emu.Requests()
	if len(recs) != 3 || recs[0].Status != 201 || recs[0].Tenant != tenantA {
		t.Errorf("Requests() = %+v", recs)
	}

	if err := emu.Reset(); err != nil {
		t.Fatal(err)
	}
	users, _ := emu.Users(tenantA)
	if len(users) != 1 || users[0].UserPrincipalName != "seed@contoso.com" {
		t.Errorf("after Reset: %+v", users)
	}
	if emu.RequestCount("GET", "/v1.0/users/"+id) != 0 || emu.TokenRequests("") != 0 {
		t.Error("counters survive Reset")
	}
	// Tokens are dropped too: the old one no longer works.
	a.get("/users").wantError(t, 401, "InvalidAuthenticationToken", "CompactToken")
}

func TestSetAccountEnabled(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	id := a.createUser("blocked@contoso.com")
	a.patch("/users/"+id, map[string]any{"accountEnabled": false})
	if err := emu.SetAccountEnabled(tenantA, "blocked@contoso.com", true); err != nil {
		t.Fatal(err)
	}
	if r := a.get("/users/" + id + "?$select=accountEnabled"); r.body["accountEnabled"] != true {
		t.Errorf("after SetAccountEnabled: %v", r.body)
	}
	if err := emu.SetAccountEnabled(tenantA, "ghost@contoso.com", true); err == nil {
		t.Error("SetAccountEnabled on a missing user succeeded")
	}
	if _, err := emu.Users("nosuchtenant"); err == nil {
		t.Error("Users on an unknown tenant succeeded")
	}
}

// TestConcurrentClients gives the race detector parallel creates, patches and listings.
func TestConcurrentClients(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &api{t: t, emu: emu, tok: a.tok}
			for j := range 5 {
				upn := "c" + string(rune('a'+i)) + string(rune('a'+j)) + "@contoso.com"
				r := c.post("/users", newUserBody(upn))
				if r.status != 201 {
					t.Errorf("create %s: %d", upn, r.status)
					return
				}
				c.patch("/users/"+upn, map[string]any{"jobTitle": "t"})
				c.get("/users?$top=5")
				emu.RequestCount("GET", "/v1.0/users")
			}
		}()
	}
	wg.Wait()
	if us, _ := emu.Users(tenantA); len(us) != 40 {
		t.Errorf("%d users, want 40", len(us))
	}
}
