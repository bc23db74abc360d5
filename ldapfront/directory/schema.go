package directory

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// syntax decides which matching rules an attribute has.
type syntax int

const (
	synString  syntax = iota // directoryString/IA5String: caseIgnore(IA5)Match, ordering, substrings
	synPhone                 // telephoneNumberMatch: case, spaces and hyphens ignored
	synOID                   // objectClass and friends: case-insensitive, no ordering or substrings
	synDN                    // distinguishedNameMatch
	synInteger               // integerMatch, integerOrderingMatch
	synTime                  // generalizedTimeMatch, generalizedTimeOrderingMatch
	synUUID                  // UUIDMatch, UUIDOrderingMatch
	synBoolean               // booleanMatch
)

// attrDef is one attribute type the directory knows.
type attrDef struct {
	name        string // the name entries are rendered with
	syntax      syntax
	operational bool
	idx         int // position in attrDefs
}

// numAttrs is len(attrDefs); entries keep their attributes in arrays of it.
const numAttrs = 31

// Attribute types, in the order entries list them.
var attrDefs = indexed([]*attrDef{
	{name: "objectClass", syntax: synOID},
	{name: "dc", syntax: synString},
	{name: "o", syntax: synString},
	{name: "ou", syntax: synString},
	{name: "uid", syntax: synString},
	{name: "cn", syntax: synString},
	{name: "sn", syntax: synString},
	{name: "givenName", syntax: synString},
	{name: "displayName", syntax: synString},
	{name: "mail", syntax: synString},
	{name: "title", syntax: synString},
	{name: "telephoneNumber", syntax: synPhone},
	{name: "employeeNumber", syntax: synString},
	{name: "departmentNumber", syntax: synString},
	{name: "description", syntax: synString},
	{name: "uidNumber", syntax: synInteger},
	{name: "gidNumber", syntax: synInteger},
	{name: "homeDirectory", syntax: synString},
	{name: "loginShell", syntax: synString},
	{name: "memberOf", syntax: synDN},
	{name: "member", syntax: synDN},
	{name: "uniqueMember", syntax: synDN},
	{name: "memberUid", syntax: synString},
	{name: "entryUUID", syntax: synUUID, operational: true},
	{name: "entryDN", syntax: synDN, operational: true},
	{name: "structuralObjectClass", syntax: synOID, operational: true},
	{name: "createTimestamp", syntax: synTime, operational: true},
	{name: "modifyTimestamp", syntax: synTime, operational: true},
	{name: "subschemaSubentry", syntax: synDN, operational: true},
	{name: "hasSubordinates", syntax: synBoolean, operational: true},
	{name: "pwdAccountLockedTime", syntax: synTime, operational: true},
})

func indexed(defs []*attrDef) []*attrDef {
	if len(defs) != numAttrs {
		panic(fmt.Sprintf("directory: numAttrs is %d, attrDefs has %d", numAttrs, len(defs)))
	}
	for i, d := range defs {
		d.idx = i
	}
	return defs
}

// mustAttr returns the definition named name (as written in attrDefs).
func mustAttr(name string) *attrDef {
	for _, d := range attrDefs {
		if d.name == name {
			return d
		}
	}
	panic("directory: unknown attribute " + name)
}

// The attributes entries are built from.
var (
	aObjectClass           = mustAttr("objectClass")
	aDc                    = mustAttr("dc")
	aO                     = mustAttr("o")
	aOu                    = mustAttr("ou")
	aUid                   = mustAttr("uid")
	aCn                    = mustAttr("cn")
	aSn                    = mustAttr("sn")
	aGivenName             = mustAttr("givenName")
	aDisplayName           = mustAttr("displayName")
	aMail                  = mustAttr("mail")
	aTitle                 = mustAttr("title")
	aTelephoneNumber       = mustAttr("telephoneNumber")
	aEmployeeNumber        = mustAttr("employeeNumber")
	aDepartmentNumber      = mustAttr("departmentNumber")
	aDescription           = mustAttr("description")
	aUidNumber             = mustAttr("uidNumber")
	aGidNumber             = mustAttr("gidNumber")
	aHomeDirectory         = mustAttr("homeDirectory")
	aLoginShell            = mustAttr("loginShell")
	aMemberOf              = mustAttr("memberOf")
	aMember                = mustAttr("member")
	aUniqueMember          = mustAttr("uniqueMember")
	aMemberUid             = mustAttr("memberUid")
	aEntryUUID             = mustAttr("entryUUID")
	aEntryDN               = mustAttr("entryDN")
	aStructuralObjectClass = mustAttr("structuralObjectClass")
	aCreateTimestamp       = mustAttr("createTimestamp")
	aModifyTimestamp       = mustAttr("modifyTimestamp")
	aSubschemaSubentry     = mustAttr("subschemaSubentry")
	aHasSubordinates       = mustAttr("hasSubordinates")
	aPwdAccountLockedTime  = mustAttr("pwdAccountLockedTime")
)

// attrByName maps lowercased names, aliases and OIDs to definitions.
var attrByName = func() map[string]*attrDef {
	m := map[string]*attrDef{}
	for _, d := range attrDefs {
		m[strings.ToLower(d.name)] = d
	}
	alias := map[string]string{
		"2.5.4.0": "objectClass", "objectclasses": "objectClass",
		"commonname": "cn", "2.5.4.3": "cn",
		"surname": "sn", "2.5.4.4": "sn",
		"userid": "uid", "0.9.2342.19200300.100.1.1": "uid",
		"rfc822mailbox": "mail", "0.9.2342.19200300.100.1.3": "mail",
		"gn": "givenName", "2.5.4.42": "givenName",
		"domaincomponent": "dc", "0.9.2342.19200300.100.1.25": "dc",
		"organizationname": "o", "2.5.4.10": "o",
		"organizationalunitname": "ou", "2.5.4.11": "ou",
		"1.3.6.1.1.1.1.0": "uidNumber", "1.3.6.1.1.1.1.1": "gidNumber",
		"2.5.4.31": "member", "2.5.4.50": "uniqueMember",
		"1.3.6.1.1.1.1.12": "memberUid", "1.3.6.1.1.16.4": "entryUUID",
	}
	for a, n := range alias {
		m[a] = m[strings.ToLower(n)]
	}
	return m
}()

// lookupAttr finds an attribute description's type, ignoring options
// (cn;lang-en names cn). nil means the directory does not know it.
func lookupAttr(desc string) *attrDef {
	if i := strings.IndexByte(desc, ';'); i >= 0 {
		desc = desc[:i]
	}
	return attrByName[strings.ToLower(strings.TrimSpace(desc))]
}

// value is an attribute value in its matching form: norm for strings, DNs
// and the like, num for integers, when for times.
type value struct {
	norm string
	num  int64
	when time.Time
	ok   bool // false: not valid for the syntax (never matches)
}

// normalize puts v into the matching form of syntax s.
func normalize(s syntax, v string) value {
	switch s {
	case synString, synOID, synUUID:
		return value{norm: foldSpace(v), ok: true}
	case synPhone:
		return value{norm: strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, strings.ToLower(v)), ok: true}
	case synDN:
		n, err := normalizeDN(v)
		return value{norm: n, ok: err == nil}
	case synInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return value{num: n, norm: strconv.FormatInt(n, 10), ok: err == nil}
	case synTime:
		t, ok := parseGeneralizedTime(v)
		return value{when: t, norm: v, ok: ok}
	case synBoolean:
		u := strings.ToUpper(strings.TrimSpace(v))
		return value{norm: u, ok: u == "TRUE" || u == "FALSE"}
	}
	return value{}
}

// foldSpace lowercases and drops insignificant spaces (RFC 4518 section 2.6.1,
// approximately): leading, trailing and repeated inner spaces.
func foldSpace(v string) string {
	return strings.Join(strings.Fields(strings.ToLower(v)), " ")
}

// compare orders two valid values of syntax s; ok is false when s has no
// ordering rule.
func compare(s syntax, a, b value) (c int, ok bool) {
	switch s {
	case synString, synUUID:
		return strings.Compare(a.norm, b.norm), true
	case synInteger:
		switch {
		case a.num < b.num:
			return -1, true
		case a.num > b.num:
			return 1, true
		}
		return 0, true
	case synTime:
		return a.when.Compare(b.when), true
	}
	return 0, false
}

// equal applies the syntax's equality rule to two valid values.
func equal(s syntax, a, b value) bool {
	switch s {
	case synInteger:
		return a.num == b.num
	case synTime:
		return a.when.Equal(b.when)
	}
	return a.norm == b.norm
}

const generalizedTime = "20060102150405Z"

// parseGeneralizedTime accepts the GeneralizedTime forms clients send:
// with or without seconds and fractions, with Z or a numeric offset.
func parseGeneralizedTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{
		"20060102150405Z0700", "20060102150405Z07", "20060102150405.999999999Z0700",
		"200601021504Z0700", "2006010215Z0700",
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func formatTime(t time.Time) string { return t.UTC().Format(generalizedTime) }
