package authority

import (
	"fmt"
	"net/mail"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on user-supplied values: generous for real data, small enough
// that a record stays far below etcd's request size limit.
const (
	maxNameLen   = 256
	maxFieldLen  = 1024
	maxEmails    = 10
	maxPhones    = 10
	minIDNumber  = 1000
	maxIDNumber  = 1<<31 - 2
	reservedName = `\/,;"<>=`
)

// checkName validates a userName, group displayName or service account
// name: it becomes an LDAP RDN and a login, so no control characters, no
// spaces (userName) and none of the characters logins use as separators.
func checkName(field, v string, allowSpaces bool) error {
	if v == "" {
		return invalid(field, "is required")
	}
	if v != strings.TrimSpace(v) {
		return invalid(field, "must not start or end with spaces")
	}
	if !utf8.ValidString(v) {
		return invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > maxNameLen {
		return invalid(field, "must be at most %d characters (got %d)", maxNameLen, n)
	}
	for _, r := range v {
		switch {
		case unicode.IsControl(r):
			return invalid(field, "must not contain control characters")
		case unicode.IsSpace(r) && !allowSpaces:
			return invalid(field, "must not contain spaces")
		case !allowSpaces && strings.ContainsRune(reservedName, r):
			return invalid(field, "must not contain any of %s", reservedName)
		}
	}
	return nil
}

func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return invalid(field, "must be valid UTF-8")
	}
	if len(v) > maxFieldLen {
		return invalid(field, "must be at most %d bytes", maxFieldLen)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

func checkEmail(field, v string) error {
	if len(v) > 254 {
		return invalid(field, "must be at most 254 characters")
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return invalid(field, "%q is not an email address (expected name@domain)", v)
	}
	return nil
}

func checkIDNumber(field string, n int64) error {
	if n != 0 && (n < minIDNumber || n > maxIDNumber) {
		return invalid(field, "must be between %d and %d (numbers below %d belong to system accounts)", minIDNumber, maxIDNumber, minIDNumber)
	}
	return nil
}

// normalizeUser validates a user and fills in what can be derived. It
// does not look at other users: uniqueness is the store's job.
func normalizeUser(u *User) error {
	if err := checkName("userName", u.UserName, false); err != nil {
		return err
	}
	if u.State == "" {
		u.State = StateActive
	}
	if !u.State.Valid() {
		return invalid("state", "must be staged, active or suspended (got %q)", u.State)
	}
	texts := map[string]string{
		"externalId": u.ExternalID, "displayName": u.DisplayName, "title": u.Title,
		"nickName": u.NickName, "userType": u.UserType, "preferredLanguage": u.PreferredLanguage,
		"locale": u.Locale, "timezone": u.Timezone,
		"name.formatted": u.Name.Formatted, "name.givenName": u.Name.GivenName, "name.familyName": u.Name.FamilyName,
		"name.middleName": u.Name.MiddleName, "name.honorificPrefix": u.Name.HonorificPrefix, "name.honorificSuffix": u.Name.HonorificSuffix,
		"employeeNumber": u.Enterprise.EmployeeNumber, "costCenter": u.Enterprise.CostCenter, "organization": u.Enterprise.Organization,
		"division": u.Enterprise.Division, "department": u.Enterprise.Department, "manager": u.Enterprise.Manager,
	}
	for f, v := range texts {
		if err := checkText(f, v); err != nil {
			return err
		}
	}
	if err := normalizeEmails(u); err != nil {
		return err
	}
	if len(u.PhoneNumbers) > maxPhones {
		return invalid("phoneNumbers", "at most %d are allowed", maxPhones)
	}
	for i, p := range u.PhoneNumbers {
		if err := checkText(fmt.Sprintf("phoneNumbers[%d]", i), p.Value); err != nil {
			return err
		}
	}
	roles, err := normalizeRoles(u.Roles)
	if err != nil {
		return err
	}
	u.Roles = roles
	if err := checkIDNumber("uidNumber", u.UIDNumber); err != nil {
		return err
	}
	// A user's primary group may be a system group such as "users" (100).
	if u.GIDNumber < 0 || u.GIDNumber > maxIDNumber {
		return invalid("gidNumber", "must be between 1 and %d", maxIDNumber)
	}
	for f, v := range map[string]string{"homeDirectory": u.HomeDirectory, "loginShell": u.LoginShell} {
		if v == "" {
			continue
		}
		if err := checkText(f, v); err != nil {
			return err
		}
		if !path.IsAbs(v) {
			return invalid(f, "must be an absolute path (got %q)", v)
		}
	}
	// Any manager id is accepted: provisioning clients (Entra ID) send
	// users in no particular order, so a manager may be created after the
	// people reporting to them. Readers treat an unknown id as no manager.
	if u.Enterprise.Manager != "" && u.Enterprise.Manager == u.ID {
		return invalid("manager", "a user cannot be their own manager")
	}
	return nil
}

// normalizeEmails trims addresses, drops exact duplicates and makes sure
// exactly one is primary (the first, when none is marked).
func normalizeEmails(u *User) error {
	if len(u.Emails) > maxEmails {
		return invalid("emails", "at most %d are allowed", maxEmails)
	}
	seen := map[string]bool{}
	out := u.Emails[:0]
	primaries := 0
	for i, e := range u.Emails {
		e.Value = strings.TrimSpace(e.Value)
		if e.Value == "" {
			continue
		}
		if err := checkEmail(fmt.Sprintf("emails[%d].value", i), e.Value); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("emails[%d].type", i), e.Type); err != nil {
			return err
		}
		k := strings.ToLower(e.Value)
		if seen[k] {
			continue
		}
		seen[k] = true
		if e.Primary {
			primaries++
		}
		out = append(out, e)
	}
	if primaries > 1 {
		return invalid("emails", "only one email can be primary")
	}
	if primaries == 0 && len(out) > 0 {
		out[0].Primary = true
	}
	if len(out) == 0 {
		out = nil
	}
	u.Emails = out
	return nil
}

var knownRoles = map[string]bool{RoleAdmin: true, RoleLDAPReader: true}

func normalizeRoles(roles []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range roles {
		r = strings.ToLower(strings.TrimSpace(r))
		if !knownRoles[r] {
			return nil, invalid("roles", "unknown role %q (known: admin, ldap-reader)", r)
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func normalizeGroup(g *Group) error {
	if err := checkName("displayName", g.DisplayName, true); err != nil {
		return err
	}
	if err := checkText("externalId", g.ExternalID); err != nil {
		return err
	}
	if err := checkText("description", g.Description); err != nil {
		return err
	}
	return checkIDNumber("gidNumber", g.GIDNumber)
}
