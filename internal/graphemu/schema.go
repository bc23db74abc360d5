package graphemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

type propKind int

const (
	kindString propKind = iota
	kindBool
	kindStringList
)

// propDef is one property of microsoft.graph.user as far as the emulator knows it.
type propDef struct {
	name     string
	kind     propKind
	writable bool
	// filter is the set of $filter forms Graph accepts on this property without advanced
	// query parameters: "eq" and, for strings, "startswith".
	filter bool
}

// userProps lists the user properties the emulator stores or, for the rest, at least knows
// exist, so that $select on them answers null as Graph does instead of failing.
var userProps = []propDef{
	{name: "id", kind: kindString, filter: true},
	{name: "accountEnabled", kind: kindBool, writable: true, filter: true},
	{name: "businessPhones", kind: kindStringList, writable: true},
	{name: "city", kind: kindString, writable: true},
	{name: "companyName", kind: kindString, writable: true},
	{name: "country", kind: kindString, writable: true},
	{name: "createdDateTime", kind: kindString},
	{name: "department", kind: kindString, writable: true},
	{name: "displayName", kind: kindString, writable: true, filter: true},
	{name: "employeeId", kind: kindString, writable: true},
	{name: "givenName", kind: kindString, writable: true, filter: true},
	{name: "jobTitle", kind: kindString, writable: true},
	{name: "mail", kind: kindString, writable: true, filter: true},
	{name: "mailNickname", kind: kindString, writable: true, filter: true},
	{name: "mobilePhone", kind: kindString, writable: true},
	{name: "officeLocation", kind: kindString, writable: true},
	{name: "onPremisesImmutableId", kind: kindString, writable: true},
	{name: "otherMails", kind: kindStringList, writable: true},
	{name: "passwordPolicies", kind: kindString, writable: true},
	{name: "preferredLanguage", kind: kindString, writable: true},
	{name: "surname", kind: kindString, writable: true, filter: true},
	{name: "usageLocation", kind: kindString, writable: true},
	{name: "userPrincipalName", kind: kindString, writable: true, filter: true},
	{name: "userType", kind: kindString, writable: true},
	// passwordProfile is write-only: selecting it returns null.
	{name: "passwordProfile", kind: kindString},
}

var userPropsByLower = func() map[string]propDef {
	m := make(map[string]propDef, len(userProps))
	for _, p := range userProps {
		m[strings.ToLower(p.name)] = p
	}
	return m
}()

// defaultUserProps is what GET /users and GET /users/{id} return without $select (v1.0).
// accountEnabled is not among them: it is returned only when selected.
var defaultUserProps = []string{
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}

// parseSelect resolves a $select list to canonical property names.
func parseSelect(raw string) ([]string, *apiError) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(raw, ",") {
		name := strings.TrimSpace(part)
		p, ok := userPropsByLower[strings.ToLower(name)]
		if !ok {
			return nil, newError(http.StatusBadRequest, "BadRequest",
				fmt.Sprintf("Parsing OData Select and Expand failed: Could not find a property named '%s' on type 'microsoft.graph.user'.", name))
		}
		out = append(out, p.name)
	}
	return out, nil
}

// render shapes a user for a response: the selected properties, or the default set.
func (u *user) render(sel []string) map[string]any {
	names := sel
	if names == nil {
		names = defaultUserProps
	}
	out := make(map[string]any, len(names))
	for _, n := range names {
		v, ok := u.props[n]
		if !ok || n == "passwordProfile" {
			v = nil
			if userPropsByLower[strings.ToLower(n)].kind == kindStringList {
				v = []string{}
			}
		}
		out[n] = v
	}
	return out
}

// userInput is a decoded POST or PATCH body.
type userInput struct {
	props       map[string]any
	hasPassword bool
	password    string
	hasForce    bool
	force       bool
}

// decodeUserInput checks a user body against the schema, property by property, the way Graph
// rejects the whole request for the first bad property.
func decodeUserInput(body []byte) (*userInput, *apiError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errInvalidJSON()
	}
	in := &userInput{props: map[string]any{}}
	for key, val := range raw {
		if strings.HasPrefix(key, "@odata.") {
			continue
		}
		if strings.EqualFold(key, "passwordProfile") {
			if err := in.decodePasswordProfile(val); err != nil {
				return nil, err
			}
			continue
		}
		p, ok := userPropsByLower[strings.ToLower(key)]
		if !ok {
			return nil, newError(http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", key))
		}
		if !p.writable {
			return nil, newError(http.StatusBadRequest, "Request_BadRequest",
				fmt.Sprintf("Property '%s' is read-only and cannot be set.", p.name))
		}
		v, err := decodeValue(p, val)
		if err != nil {
			return nil, err
		}
		in.props[p.name] = v
	}
	return in, nil
}

func (in *userInput) decodePasswordProfile(val json.RawMessage) *apiError {
	if string(val) == "null" {
		return nil
	}
	var pp map[string]json.RawMessage
	if err := json.Unmarshal(val, &pp); err != nil {
		return newError(http.StatusBadRequest, "BadRequest",
			"Cannot convert the literal to the expected type 'microsoft.graph.passwordProfile'.")
	}
	for k, v := range pp {
		switch strings.ToLower(k) {
		case "password":
			if err := json.Unmarshal(v, &in.password); err != nil {
				return errConvert(v, "Edm.String")
			}
			in.hasPassword = true
		case "forcechangepasswordnextsignin":
			if err := json.Unmarshal(v, &in.force); err != nil {
				return errConvert(v, "Edm.Boolean")
			}
			in.hasForce = true
		}
	}
	return nil
}

func decodeValue(p propDef, val json.RawMessage) (any, *apiError) {
	if string(val) == "null" {
		if p.kind == kindBool {
			return nil, errConvert(val, "Edm.Boolean")
		}
		return nil, nil
	}
	switch p.kind {
	case kindBool:
		var b bool
		if err := json.Unmarshal(val, &b); err != nil {
			return nil, errConvert(val, "Edm.Boolean")
		}
		return b, nil
	case kindStringList:
		var l []string
		if err := json.Unmarshal(val, &l); err != nil {
			return nil, errConvert(val, "Collection(Edm.String)")
		}
		if l == nil {
			l = []string{}
		}
		return l, nil
	default:
		var s string
		if err := json.Unmarshal(val, &s); err != nil {
			return nil, errConvert(val, "Edm.String")
		}
		return s, nil
	}
}

func errConvert(val json.RawMessage, typ string) *apiError {
	return newError(http.StatusBadRequest, "BadRequest",
		fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", strings.Trim(string(val), `"`), typ))
}

func errInvalidJSON() *apiError {
	return newError(http.StatusBadRequest, "BadRequest",
		"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
}

func errInvalidProperty(name string) *apiError {
	return newError(http.StatusBadRequest, "Request_BadRequest",
		fmt.Sprintf("Invalid value specified for property '%s' of resource 'User'.", name))
}

// validateUPN checks a userPrincipalName's shape and that its domain is a verified domain of
// the tenant, with the messages Graph gives for each.
func validateUPN(t *tenant, upn string) *apiError {
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || !validUPNLocal(local) ||
		strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || len(upn) > 113 {
		e := newError(http.StatusBadRequest, "Request_BadRequest", "Property userPrincipalName is invalid.")
		e.details = []errorDetail{{Target: "userPrincipalName", Code: "InvalidValue"}}
		return e
	}
	if !t.verifiedDomain(domain) {
		e := newError(http.StatusBadRequest, "Request_BadRequest",
			"The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.")
		e.details = []errorDetail{{Target: "userPrincipalName", Code: "InvalidValue"}}
		return e
	}
	return nil
}

// validUPNLocal allows the characters Entra documents for the part before the @:
// A-Z a-z 0-9 ' . - _ ! # ^ ~
func validUPNLocal(s string) bool {
	for _, r := range s {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		case strings.ContainsRune("'.-_!#^~", r):
		default:
			return false
		}
	}
	return true
}

func errUPNConflict() *apiError {
	e := newError(http.StatusBadRequest, "Request_BadRequest",
		"Another object with the same value for property userPrincipalName already exists.")
	e.details = []errorDetail{{Target: "userPrincipalName", Code: "ObjectConflict"}}
	return e
}

func errMailConflict() *apiError {
	e := newError(http.StatusBadRequest, "Request_BadRequest",
		"Another object with the same value for property proxyAddresses already exists.")
	e.details = []errorDetail{{Target: "proxyAddresses", Code: "ObjectConflict"}}
	return e
}

// validMailNickname rejects what Exchange does not allow in an alias.
func validMailNickname(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r > 127 || unicode.IsSpace(r) || strings.ContainsRune(`@()\[]";:<>,`, r) {
			return false
		}
	}
	return true
}

// checkPassword applies Entra's cloud password policy: 8 to 256 characters, at least three of
// lowercase, uppercase, digits and symbols.
func checkPassword(pw string) *apiError {
	n := len([]rune(pw))
	classes := 0
	var lower, upper, digit, symbol bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			symbol = true
		}
	}
	for _, b := range []bool{lower, upper, digit, symbol} {
		if b {
			classes++
		}
	}
	if n < 8 || n > 256 || classes < 3 {
		return newError(http.StatusBadRequest, "Request_BadRequest",
			"The specified password does not comply with password complexity requirements. Please provide a different password.")
	}
	return nil
}
