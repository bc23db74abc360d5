package resource

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// GroupRef is a group a user is a direct member of, as the user's groups
// attribute shows it.
type GroupRef struct {
	ID, DisplayName string
}

// UserToSCIM represents u as a SCIM User. groups are the groups u is a
// direct member of; baseURL is the SCIM base ("https://host/scim/v2"),
// from which meta.location and the $ref links are made.
//
// Empty values are left out rather than sent as "" or null, except active,
// which is always given (false is a value): staged and suspended users are
// both inactive. name.formatted and displayName are what was stored and
// are never derived from the name's parts, so that a client echoing the
// representation back in a PUT stores nothing Headwater made up. Times are
// RFC 3339 in UTC to the second. The password is never included.
func UserToSCIM(u *authority.User, groups []GroupRef, baseURL string) map[string]any {
	baseURL = strings.TrimRight(baseURL, "/")
	res := map[string]any{}
	schemas := []any{schema.UserURN}
	put(res, "id", u.ID)
	put(res, "externalId", u.ExternalID)
	put(res, "userName", u.UserName)
	name := map[string]any{}
	put(name, "formatted", u.Name.Formatted)
	put(name, "familyName", u.Name.FamilyName)
	put(name, "givenName", u.Name.GivenName)
	put(name, "middleName", u.Name.MiddleName)
	put(name, "honorificPrefix", u.Name.HonorificPrefix)
	put(name, "honorificSuffix", u.Name.HonorificSuffix)
	putObj(res, "name", name)
	put(res, "displayName", u.DisplayName)
	put(res, "title", u.Title)
	put(res, "nickName", u.NickName)
	put(res, "userType", u.UserType)
	put(res, "preferredLanguage", u.PreferredLanguage)
	put(res, "locale", u.Locale)
	put(res, "timezone", u.Timezone)
	res["active"] = u.State == authority.StateActive

	var emails []any
	for _, e := range u.Emails {
		emails = append(emails, multiValue(e.Value, e.Type, e.Primary))
	}
	putList(res, "emails", emails)
	var phones []any
	for _, p := range u.PhoneNumbers {
		phones = append(phones, multiValue(p.Value, p.Type, p.Primary))
	}
	putList(res, "phoneNumbers", phones)
	var gs []any
	for _, g := range groups {
		m := map[string]any{"value": g.ID, "$ref": baseURL + "/Groups/" + g.ID, "type": "direct"}
		put(m, "display", g.DisplayName)
		gs = append(gs, m)
	}
	putList(res, "groups", gs)

	ent := map[string]any{}
	put(ent, "employeeNumber", u.Enterprise.EmployeeNumber)
	put(ent, "costCenter", u.Enterprise.CostCenter)
	put(ent, "organization", u.Enterprise.Organization)
	put(ent, "division", u.Enterprise.Division)
	put(ent, "department", u.Enterprise.Department)
	if id := u.Enterprise.Manager; id != "" {
		// manager.displayName is left out: it would cost a lookup of
		// another user for every user shown.
		ent["manager"] = map[string]any{"value": id, "$ref": baseURL + "/Users/" + id}
	}
	if putObj(res, schema.EnterpriseURN, ent) {
		schemas = append(schemas, schema.EnterpriseURN)
	}

	// Stored users always have both numbers, so the POSIX extension is
	// always there in practice; it is still left out when empty, like
	// any other value.
	px := map[string]any{}
	putInt(px, "uidNumber", u.UIDNumber)
	putInt(px, "gidNumber", u.GIDNumber)
	put(px, "homeDirectory", u.HomeDirectory)
	put(px, "loginShell", u.LoginShell)
	if putObj(res, schema.PosixUserURN, px) {
		schemas = append(schemas, schema.PosixUserURN)
	}

	putObj(res, "meta", meta("User", baseURL+"/Users/", u.ID, u.Created, u.Modified, u.Version))
	res["schemas"] = schemas
	return res
}

// UserFromSCIM applies a full User representation (a POST or PUT body) to
// u and returns the password it carries, if any (nil when absent, null or
// empty). u is only changed when there is no error; errors are
// *scimerr.Error with status 400.
//
// Every writable attribute takes the value given, and an absent or null
// one is cleared, with these exceptions:
//   - read-only attributes (id, meta, groups) are ignored;
//   - uidNumber and gidNumber are kept when absent, as the POSIX contract
//     says (absent numbers are allocated, and a client that never heard of
//     the extension must not unset them);
//   - active is kept when absent: a client leaving it out has not asked to
//     suspend anyone. active true makes the user active (the only way out
//     of staged); active false suspends an active user and leaves a staged
//     one staged, as staged is already inactive;
//   - attributes of the User schema that Headwater does not store (the
//     emails' and phone numbers' display) are checked for type and then
//     dropped, as are attributes no schema defines;
//   - what is not a SCIM attribute (roles, the stored password) is never
//     touched.
//
// Email and phone entries without a value are dropped. The manager is
// read from manager.value; its $ref is not parsed for an id. Names are matched
// case-insensitively; see compat.go for the non-standard forms accepted.
func UserFromSCIM(res map[string]any, u *authority.User) (password *string, err error) {
	rt := schema.NewUserType()
	b, err := readBody(rt, res)
	if err != nil {
		return nil, err
	}
	core := rt.Core
	ent := rt.SchemaByURN(schema.EnterpriseURN)
	px := rt.SchemaByURN(schema.PosixUserURN)

	n := *u
	n.UserName = b.str(core.Attr("userName"))
	if n.UserName == "" {
		return nil, scimerr.BadRequest(scimerr.InvalidValue, "userName is required")
	}
	n.ExternalID = b.str(core.Attr("externalId"))
	na := core.Attr("name")
	nm := b.obj(na)
	n.Name = authority.Name{
		Formatted:       subStr(nm, na, "formatted"),
		GivenName:       subStr(nm, na, "givenName"),
		FamilyName:      subStr(nm, na, "familyName"),
		MiddleName:      subStr(nm, na, "middleName"),
		HonorificPrefix: subStr(nm, na, "honorificPrefix"),
		HonorificSuffix: subStr(nm, na, "honorificSuffix"),
	}
	n.DisplayName = b.str(core.Attr("displayName"))
	n.Title = b.str(core.Attr("title"))
	n.NickName = b.str(core.Attr("nickName"))
	n.UserType = b.str(core.Attr("userType"))
	n.PreferredLanguage = b.str(core.Attr("preferredLanguage"))
	n.Locale = b.str(core.Attr("locale"))
	n.Timezone = b.str(core.Attr("timezone"))
	if active, ok := b.vals[core.Attr("active")].(bool); ok {
		switch {
		case active:
			n.State = authority.StateActive
		case n.State != authority.StateStaged:
			n.State = authority.StateSuspended
		}
	}

	ea := core.Attr("emails")
	n.Emails = nil
	for _, e := range b.list(ea) {
		m := e.(map[*schema.Attribute]any)
		if v := subStr(m, ea, "value"); v != "" {
			n.Emails = append(n.Emails, authority.Email{Value: v, Type: subStr(m, ea, "type"), Primary: subBool(m, ea, "primary")})
		}
	}
	pa := core.Attr("phoneNumbers")
	n.PhoneNumbers = nil
	for _, e := range b.list(pa) {
		m := e.(map[*schema.Attribute]any)
		if v := subStr(m, pa, "value"); v != "" {
			n.PhoneNumbers = append(n.PhoneNumbers, authority.Phone{Value: v, Type: subStr(m, pa, "type"), Primary: subBool(m, pa, "primary")})
		}
	}

	ma := ent.Attr("manager")
	n.Enterprise = authority.Enterprise{
		EmployeeNumber: b.str(ent.Attr("employeeNumber")),
		CostCenter:     b.str(ent.Attr("costCenter")),
		Organization:   b.str(ent.Attr("organization")),
		Division:       b.str(ent.Attr("division")),
		Department:     b.str(ent.Attr("department")),
		Manager:        subStr(b.obj(ma), ma, "value"),
	}

	if v, ok := b.vals[px.Attr("uidNumber")].(int64); ok {
		n.UIDNumber = v
	}
	if v, ok := b.vals[px.Attr("gidNumber")].(int64); ok {
		n.GIDNumber = v
	}
	n.HomeDirectory = b.str(px.Attr("homeDirectory"))
	n.LoginShell = b.str(px.Attr("loginShell"))

	if pw := b.str(core.Attr("password")); pw != "" {
		password = &pw
	}
	*u = n
	return password, nil
}

// Helpers that build representations without empty values.

func put(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func putInt(m map[string]any, k string, v int64) {
	if v != 0 {
		m[k] = json.Number(strconv.FormatInt(v, 10))
	}
}

func putObj(m map[string]any, k string, v map[string]any) bool {
	if len(v) == 0 {
		return false
	}
	m[k] = v
	return true
}

func putList(m map[string]any, k string, v []any) {
	if len(v) > 0 {
		m[k] = v
	}
}

func multiValue(value, typ string, primary bool) map[string]any {
	m := map[string]any{}
	put(m, "value", value)
	put(m, "type", typ)
	if primary {
		m["primary"] = true
	}
	return m
}

// meta is the common meta attribute. version is the store's revision as
// a weak ETag, the form RFC 7644 §3.14 shows.
func meta(resourceType, collection, id string, created, modified time.Time, version int64) map[string]any {
	m := map[string]any{"resourceType": resourceType}
	if id != "" {
		m["location"] = collection + id
	}
	if !created.IsZero() {
		m["created"] = created.UTC().Format(time.RFC3339)
	}
	if !modified.IsZero() {
		m["lastModified"] = modified.UTC().Format(time.RFC3339)
	}
	if version != 0 {
		m["version"] = `W/"` + strconv.FormatInt(version, 10) + `"`
	}
	return m
}
