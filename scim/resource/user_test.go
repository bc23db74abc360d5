package resource

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

var (
	created  = time.Date(2024, 3, 1, 9, 30, 15, 123456789, time.FixedZone("CET", 3600))
	modified = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

func fullUser() *authority.User {
	return &authority.User{
		ID:         "2819c223-7f76-453a-919d-413861904646",
		UserName:   "bjensen",
		ExternalID: "701984",
		Name: authority.Name{Formatted: "Ms. Barbara J Jensen, III", GivenName: "Barbara", FamilyName: "Jensen",
			MiddleName: "Jane", HonorificPrefix: "Ms.", HonorificSuffix: "III"},
		DisplayName:  "Babs Jensen",
		Emails:       []authority.Email{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "babs@jensen.org", Type: "home"}},
		PhoneNumbers: []authority.Phone{{Value: "555-555-5555", Type: "work"}, {Value: "555-555-4444", Type: "mobile", Primary: true}},
		Title:        "Tour Guide",
		Enterprise: authority.Enterprise{EmployeeNumber: "701984", CostCenter: "4130", Organization: "Universal Studios",
			Division: "Theme Park", Department: "Tour Operations", Manager: "26118915-6090-4610-87e4-49d8ca9f808d"},
		State:         authority.StateActive,
		Roles:         []string{"ldap-reader"},
		UIDNumber:     10001,
		GIDNumber:     10001,
		HomeDirectory: "/home/bjensen",
		LoginShell:    "/bin/bash",
		Password:      &authority.Password{Hash: "$argon2id$v=19$secret-hash", ChangedAt: modified},
		Created:       created,
		Modified:      modified,
		Version:       42,
	}
}

func TestUserToSCIM(t *testing.T) {
	u := fullUser()
	got := UserToSCIM(u, []GroupRef{{ID: "g1", DisplayName: "Tour Guides"}, {ID: "g2"}}, base+"/")
	want := map[string]any{
		"schemas":    []any{schema.UserURN, schema.EnterpriseURN, schema.PosixUserURN},
		"id":         u.ID,
		"externalId": "701984",
		"userName":   "bjensen",
		"name": map[string]any{"formatted": "Ms. Barbara J Jensen, III", "givenName": "Barbara", "familyName": "Jensen",
			"middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
		"displayName": "Babs Jensen",
		"title":       "Tour Guide",
		"active":      true,
		"emails": []any{
			map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
			map[string]any{"value": "babs@jensen.org", "type": "home"},
		},
		"phoneNumbers": []any{
			map[string]any{"value": "555-555-5555", "type": "work"},
			map[string]any{"value": "555-555-4444", "type": "mobile", "primary": true},
		},
		"groups": []any{
			map[string]any{"value": "g1", "$ref": base + "/Groups/g1", "display": "Tour Guides", "type": "direct"},
			map[string]any{"value": "g2", "$ref": base + "/Groups/g2", "type": "direct"},
		},
		schema.EnterpriseURN: map[string]any{"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
			"division": "Theme Park", "department": "Tour Operations",
			"manager": map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": base + "/Users/26118915-6090-4610-87e4-49d8ca9f808d"}},
		schema.PosixUserURN: map[string]any{"uidNumber": json.Number("10001"), "gidNumber": json.Number("10001"),
			"homeDirectory": "/home/bjensen", "loginShell": "/bin/bash"},
		"meta": map[string]any{"resourceType": "User", "created": "2024-03-01T08:30:15Z", "lastModified": "2025-01-02T03:04:05Z",
			"location": base + "/Users/" + u.ID, "version": `W/"42"`},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("got\n%s", gj)
	}
	// The encoded form is what a client reads; it must equal what the
	// server would decode from it.
	if back := viaJSON(t, got); !reflect.DeepEqual(back, want) {
		t.Errorf("JSON round trip changed the representation: %v", back)
	}
}

func TestUserToSCIMOmitsEmptyValues(t *testing.T) {
	for _, state := range []authority.State{authority.StateStaged, authority.StateSuspended} {
		u := &authority.User{ID: "u1", UserName: "min", State: state, UIDNumber: 5000, GIDNumber: 5000}
		got := UserToSCIM(u, nil, base)
		want := map[string]any{
			"schemas":           []any{schema.UserURN, schema.PosixUserURN},
			"id":                "u1",
			"userName":          "min",
			"active":            false,
			schema.PosixUserURN: map[string]any{"uidNumber": json.Number("5000"), "gidNumber": json.Number("5000")},
			"meta":              map[string]any{"resourceType": "User", "location": base + "/Users/u1"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v", state, got)
		}
	}
}

func TestUserToSCIMNeverShowsPassword(t *testing.T) {
	b, err := json.Marshal(UserToSCIM(fullUser(), nil, base))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"password", "argon2id", "secret-hash"} {
		if strings.Contains(strings.ToLower(string(b)), s) {
			t.Errorf("representation contains %q: %s", s, b)
		}
	}
}

// scramble gives every writable field of u another value, and the
// opposite state, so that a round trip must set each of them.
func scramble(u *authority.User) *authority.User {
	c := u.Clone()
	c.UserName, c.ExternalID, c.DisplayName, c.Title = "old", "old", "old", "old"
	c.Name = authority.Name{GivenName: "old", Formatted: "old"}
	c.Emails = []authority.Email{{Value: "old@example.com", Primary: true}}
	c.PhoneNumbers = []authority.Phone{{Value: "000"}}
	c.Enterprise = authority.Enterprise{Department: "old", Manager: "old"}
	c.HomeDirectory, c.LoginShell = "/old", "/old"
	c.UIDNumber, c.GIDNumber = 1, 1
	switch u.State {
	case authority.StateActive:
		c.State = authority.StateSuspended
	case authority.StateSuspended:
		c.State = authority.StateActive
	}
	return c
}

func TestUserRoundTrip(t *testing.T) {
	unicode := fullUser()
	unicode.UserName, unicode.Name = "zoë", authority.Name{GivenName: "Zoë", FamilyName: "Ångström-Øster", Formatted: "Zoë Ångström-Øster"}
	unicode.Enterprise = authority.Enterprise{Department: "研究開発"}
	cases := map[string]*authority.User{
		"full":      fullUser(),
		"minimal":   {ID: "u2", UserName: "min", State: authority.StateActive, UIDNumber: 10002, GIDNumber: 10002},
		"staged":    {ID: "u3", UserName: "staged", State: authority.StateStaged, UIDNumber: 10003, GIDNumber: 100},
		"suspended": {ID: "u4", UserName: "gone", State: authority.StateSuspended, Title: "Former", UIDNumber: 10004, GIDNumber: 10004},
		"unicode":   unicode,
		"enterprise only manager": {ID: "u5", UserName: "e", State: authority.StateActive, Enterprise: authority.Enterprise{Manager: "m1"},
			UIDNumber: 10005, GIDNumber: 10005},
	}
	for name, u := range cases {
		for _, wire := range []bool{false, true} {
			res := UserToSCIM(u, []GroupRef{{ID: "g1", DisplayName: "G"}}, base)
			if wire {
				res = viaJSON(t, res)
			}
			got := scramble(u)
			pw, err := UserFromSCIM(res, got)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if pw != nil {
				t.Errorf("%s: password %q from a representation that has none", name, *pw)
			}
			if !reflect.DeepEqual(got, u) {
				t.Errorf("%s (via JSON %t):\n got %+v\nwant %+v", name, wire, got, u)
			}
		}
	}
}

func TestUserFromSCIMRFC7643FullUser(t *testing.T) {
	u := &authority.User{}
	pw, err := UserFromSCIM(fixture(t, "rfc7643-8.2-full-user.json"), u)
	if err != nil {
		t.Fatal(err)
	}
	want := &authority.User{
		UserName:   "bjensen@example.com",
		ExternalID: "701984",
		Name: authority.Name{Formatted: "Ms. Barbara J Jensen, III", FamilyName: "Jensen", GivenName: "Barbara",
			MiddleName: "Jane", HonorificPrefix: "Ms.", HonorificSuffix: "III"},
		DisplayName:  "Babs Jensen",
		Emails:       []authority.Email{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "babs@jensen.org", Type: "home"}},
		PhoneNumbers: []authority.Phone{{Value: "555-555-5555", Type: "work"}, {Value: "555-555-4444", Type: "mobile"}},
		Title:        "Tour Guide",
		NickName:     "Babs", UserType: "Employee", PreferredLanguage: "en-US", Locale: "en-US", Timezone: "America/Los_Angeles",
		State: authority.StateActive,
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}
	if pw == nil || *pw != "t1meMa$heen" {
		t.Errorf("password = %v, want t1meMa$heen", pw)
	}
}

func TestUserFromSCIMRFC7643EnterpriseUser(t *testing.T) {
	u := &authority.User{}
	if _, err := UserFromSCIM(fixture(t, "rfc7643-8.3-enterprise-user.json"), u); err != nil {
		t.Fatal(err)
	}
	want := authority.Enterprise{EmployeeNumber: "701984", CostCenter: "4130", Organization: "Universal Studios",
		Division: "Theme Park", Department: "Tour Operations", Manager: "26118915-6090-4610-87e4-49d8ca9f808d"}
	if u.Enterprise != want {
		t.Errorf("enterprise = %+v, want %+v", u.Enterprise, want)
	}
}

func TestUserFromSCIMOkta(t *testing.T) {
	u := &authority.User{}
	pw, err := UserFromSCIM(fixture(t, "okta-create-user.json"), u)
	if err != nil {
		t.Fatal(err)
	}
	want := &authority.User{UserName: "test.user@okta.local", ExternalID: "00ujl29u0le5T6Aj10h7", DisplayName: "Test User",
		Name:   authority.Name{GivenName: "Test", FamilyName: "User"},
		Emails: []authority.Email{{Value: "test.user@okta.local", Type: "work", Primary: true}},
		Locale: "en-US",
		State:  authority.StateActive}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}
	if pw == nil || *pw != "1mz050nq" {
		t.Errorf("password = %v", pw)
	}
}

func TestUserFromSCIMEntra(t *testing.T) {
	u := &authority.User{Roles: []string{"admin"}}
	pw, err := UserFromSCIM(fixture(t, "entra-create-user.json"), u)
	if err != nil {
		t.Fatal(err)
	}
	want := &authority.User{
		UserName:    "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.com",
		ExternalID:  "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
		DisplayName: "Test User",
		Name:        authority.Name{Formatted: "givenName familyName", FamilyName: "familyName", GivenName: "givenName"},
		Emails:      []authority.Email{{Value: "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@contoso.com", Type: "work", Primary: true}},
		Title:       "Engineer",
		Enterprise:  authority.Enterprise{EmployeeNumber: "1234", Department: "Sales", Manager: "1b2c3d4e-0000-4000-8000-000000000001"},
		State:       authority.StateSuspended,
		// roles in the body are not a Headwater SCIM attribute: a SCIM
		// client can neither grant nor revoke them.
		Roles: []string{"admin"},
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("got  %+v\nwant %+v", u, want)
	}
	if pw != nil {
		t.Errorf("password = %q", *pw)
	}
}

// TestUserFromSCIM covers the rules of a full replace, one at a time.
func TestUserFromSCIM(t *testing.T) {
	existing := func() *authority.User {
		return &authority.User{ID: "u1", UserName: "old", DisplayName: "Old", Title: "T", State: authority.StateActive,
			Emails:    []authority.Email{{Value: "old@example.com", Primary: true}},
			UIDNumber: 10001, GIDNumber: 10002, HomeDirectory: "/home/old", LoginShell: "/bin/sh",
			Enterprise: authority.Enterprise{Department: "D", Manager: "m"}}
	}
	cases := []struct {
		name  string
		prior func(*authority.User)
		body  string
		check func(t *testing.T, u *authority.User, pw *string)
	}{
		{name: "names are case-insensitive at every level",
			body: `{"SCHEMAS":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],"USERNAME":"new","Name":{"GIVENNAME":"G"},
				"eMails":[{"VALUE":"a@example.com","Primary":true}],
				"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"Department":"X","MANAGER":{"Value":"m2"}},
				"urn:headwater:params:scim:schemas:extension:posix:1.0:user":{"UIDNUMBER":20000,"LoginShell":"/bin/zsh"}}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				if u.UserName != "new" || u.Name.GivenName != "G" || len(u.Emails) != 1 || !u.Emails[0].Primary ||
					u.Enterprise.Department != "X" || u.Enterprise.Manager != "m2" || u.UIDNumber != 20000 || u.LoginShell != "/bin/zsh" {
					t.Errorf("got %+v", u)
				}
			}},
		{name: "absent attributes are cleared, numbers and state kept",
			body: `{"userName":"new"}`,
			check: func(t *testing.T, u *authority.User, pw *string) {
				want := &authority.User{ID: "u1", UserName: "new", State: authority.StateActive, UIDNumber: 10001, GIDNumber: 10002}
				if !reflect.DeepEqual(u, want) || pw != nil {
					t.Errorf("got %+v", u)
				}
			}},
		{name: "null clears", body: `{"userName":"new","displayName":null,"name":null,"emails":null,"active":null,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null,
			"urn:headwater:params:scim:schemas:extension:posix:1.0:User":{"uidNumber":null,"homeDirectory":null}}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				if u.DisplayName != "" || u.Emails != nil || u.Enterprise != (authority.Enterprise{}) || u.HomeDirectory != "" ||
					u.UIDNumber != 10001 || u.State != authority.StateActive {
					t.Errorf("got %+v", u)
				}
			}},
		{name: "active false suspends", body: `{"userName":"x","active":false}`,
			check: func(t *testing.T, u *authority.User, _ *string) { wantState(t, u, authority.StateSuspended) }},
		{name: "active true reactivates", prior: func(u *authority.User) { u.State = authority.StateSuspended },
			body:  `{"userName":"x","active":true}`,
			check: func(t *testing.T, u *authority.User, _ *string) { wantState(t, u, authority.StateActive) }},
		{name: "staged stays staged without active", prior: func(u *authority.User) { u.State = authority.StateStaged },
			body:  `{"userName":"x"}`,
			check: func(t *testing.T, u *authority.User, _ *string) { wantState(t, u, authority.StateStaged) }},
		{name: "staged stays staged on active false", prior: func(u *authority.User) { u.State = authority.StateStaged },
			body:  `{"userName":"x","active":false}`,
			check: func(t *testing.T, u *authority.User, _ *string) { wantState(t, u, authority.StateStaged) }},
		{name: "staged becomes active on active true", prior: func(u *authority.User) { u.State = authority.StateStaged },
			body:  `{"userName":"x","active":true}`,
			check: func(t *testing.T, u *authority.User, _ *string) { wantState(t, u, authority.StateActive) }},
		{name: "a new user without active is left to the authority's default", prior: func(u *authority.User) { *u = authority.User{} },
			body:  `{"userName":"x"}`,
			check: func(t *testing.T, u *authority.User, _ *string) { wantState(t, u, "") }},
		{name: "Entra's string booleans", body: `{"userName":"x","active":"FALSE","emails":[{"value":"a@example.com","primary":"True"}]}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				wantState(t, u, authority.StateSuspended)
				if len(u.Emails) != 1 || !u.Emails[0].Primary {
					t.Errorf("emails = %+v", u.Emails)
				}
			}},
		{name: "Entra's bare manager id and qualified keys",
			body: `{"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m9",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter":"cc",
				"urn:headwater:params:scim:schemas:extension:posix:1.0:User:gidNumber":7000,
				"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName":"F"}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				if u.Enterprise != (authority.Enterprise{Manager: "m9", CostCenter: "cc"}) || u.GIDNumber != 7000 || u.Name.FamilyName != "F" {
					t.Errorf("got %+v", u)
				}
			}},
		{name: "nested and qualified may both be given when they agree",
			body: `{"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Sales",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"m"}},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m"}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				if u.Enterprise != (authority.Enterprise{Department: "Sales", Manager: "m"}) {
					t.Errorf("got %+v", u.Enterprise)
				}
			}},
		{name: "read-only and unknown attributes are ignored",
			body: `{"userName":"x","id":"other","meta":42,"groups":"nonsense","roles":[{"value":"admin"}],"nickName":"n",
				"x509Certificates":[{"value":"abc"}],"urn:example:unknown:1.0:User":{"a":1},"urn:example:unknown:1.0:User:a":1,
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m","displayName":42}}}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				if u.ID != "u1" || u.Roles != nil || u.Enterprise.Manager != "m" {
					t.Errorf("got %+v", u)
				}
			}},
		{name: "schemas may be absent", body: `{"userName":"x"}`,
			check: func(t *testing.T, u *authority.User, _ *string) {}},
		{name: "password is returned, not stored", body: `{"userName":"x","password":"s3cret!"}`,
			check: func(t *testing.T, u *authority.User, pw *string) {
				if pw == nil || *pw != "s3cret!" || u.Password != nil {
					t.Errorf("pw = %v, stored %+v", pw, u.Password)
				}
			}},
		{name: "empty password is no password", body: `{"userName":"x","password":""}`,
			check: func(t *testing.T, u *authority.User, pw *string) {
				if pw != nil {
					t.Errorf("pw = %q", *pw)
				}
			}},
		{name: "entries without value and null entries are dropped",
			body: `{"userName":"x","emails":[null,{"type":"work"},{"value":"a@example.com"}],"phoneNumbers":[{"value":""}]}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				if !reflect.DeepEqual(u.Emails, []authority.Email{{Value: "a@example.com"}}) || u.PhoneNumbers != nil {
					t.Errorf("emails %+v phones %+v", u.Emails, u.PhoneNumbers)
				}
			}},
		{name: "numbers from Go values", body: `{"userName":"x"}`,
			check: func(t *testing.T, u *authority.User, _ *string) {
				res := map[string]any{"userName": "x", schema.PosixUserURN: map[string]any{"uidNumber": 12345, "gidNumber": float64(23456)}}
				if _, err := UserFromSCIM(res, u); err != nil || u.UIDNumber != 12345 || u.GIDNumber != 23456 {
					t.Errorf("err %v, got %+v", err, u)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := existing()
			if c.prior != nil {
				c.prior(u)
			}
			pw, err := UserFromSCIM(decode(t, c.body), u)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, u, pw)
		})
	}
}

func wantState(t *testing.T, u *authority.User, s authority.State) {
	t.Helper()
	if u.State != s {
		t.Errorf("state = %q, want %q", u.State, s)
	}
}

func TestUserFromSCIMErrors(t *testing.T) {
	ent := `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	px := `"urn:headwater:params:scim:schemas:extension:posix:1.0:User"`
	cases := []struct {
		body     string
		scimType string
		names    []string
	}{
		{`{"userName":42}`, scimerr.InvalidValue, []string{"userName", "string"}},
		{`{"userName":"x","displayName":true}`, scimerr.InvalidValue, []string{"displayName"}},
		{`{"userName":"x","name":"Barbara Jensen"}`, scimerr.InvalidValue, []string{"name", "object"}},
		{`{"userName":"x","name":{"givenName":["B"]}}`, scimerr.InvalidValue, []string{"name.givenName"}},
		{`{"userName":"x","emails":{"value":"a@example.com"}}`, scimerr.InvalidValue, []string{"emails", "list"}},
		{`{"userName":"x","emails":["a@example.com"]}`, scimerr.InvalidValue, []string{"emails[0]", "object"}},
		{`{"userName":"x","emails":[{"value":"a@example.com"},{"value":5}]}`, scimerr.InvalidValue, []string{"emails[1].value"}},
		{`{"userName":"x","emails":[{"value":"a@example.com","primary":"yes"}]}`, scimerr.InvalidValue, []string{"emails[0].primary"}},
		{`{"userName":"x","active":"yes"}`, scimerr.InvalidValue, []string{"active"}},
		{`{"userName":"x","active":1}`, scimerr.InvalidValue, []string{"active"}},
		{`{"userName":"x","password":12345678}`, scimerr.InvalidValue, []string{"password"}},
		{`{"userName":"x","nickName":7}`, scimerr.InvalidValue, []string{"nickName"}},
		{`{"userName":"x",` + ent + `:"Sales"}`, scimerr.InvalidValue, []string{"enterprise"}},
		{`{"userName":"x",` + ent + `:{"manager":17}}`, scimerr.InvalidValue, []string{"enterprise:2.0:User:manager"}},
		{`{"userName":"x",` + ent + `:{"manager":{"value":17}}}`, scimerr.InvalidValue, []string{"manager.value"}},
		{`{"userName":"x",` + px + `:{"uidNumber":"10000"}}`, scimerr.InvalidValue, []string{"uidNumber", "whole number"}},
		{`{"userName":"x",` + px + `:{"uidNumber":1.5}}`, scimerr.InvalidValue, []string{"uidNumber"}},
		{`{"userName":"x",` + px + `:{"gidNumber":1e400}}`, scimerr.InvalidValue, []string{"gidNumber"}},
		{`{"userName":"x",` + px + `:{"gidNumber":99999999999999999999}}`, scimerr.InvalidValue, []string{"gidNumber"}},
		{`{"userName":"x","urn:ietf:params:scim:schemas:core:2.0:User:emails.value":"a@example.com"}`, scimerr.InvalidValue, []string{"emails.value"}},
		{`{}`, scimerr.InvalidValue, []string{"userName", "required"}},
		{`{"userName":""}`, scimerr.InvalidValue, []string{"userName", "required"}},
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"x"}`, scimerr.InvalidSyntax, []string{"schemas", schema.UserURN}},
		{`{"schemas":[],"userName":"x"}`, scimerr.InvalidSyntax, []string{"schemas"}},
		{`{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"x"}`, scimerr.InvalidSyntax, []string{"schemas", "list"}},
		{`{"schemas":[1],"userName":"x"}`, scimerr.InvalidSyntax, []string{"schemas"}},
		{`{"userName":"x","UserName":"y"}`, scimerr.InvalidSyntax, []string{"userName", "more than once"}},
		{`{"userName":"x","name":{"givenName":"a","GivenName":"b"}}`, scimerr.InvalidSyntax, []string{"name.givenName"}},
		{`{"userName":"x",` + ent + `:{"department":"A"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"B"}`,
			scimerr.InvalidSyntax, []string{"department"}},
		{`{"userName":"x",` + ent + `:{"manager":"a"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"value":"b"}}`,
			scimerr.InvalidSyntax, []string{"manager.value"}},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			u := fullUser()
			before := fullUser()
			pw, err := UserFromSCIM(decode(t, c.body), u)
			wantSCIMError(t, err, c.scimType, c.names...)
			if pw != nil {
				t.Errorf("password returned with an error")
			}
			if !reflect.DeepEqual(u, before) {
				t.Errorf("user changed despite the error: %+v", u)
			}
		})
	}
}
