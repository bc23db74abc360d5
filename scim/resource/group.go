package resource

import (
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// MemberRef is a member of a group, as the group's members attribute
// shows it.
type MemberRef struct {
	ID, Display string
}

// GroupToSCIM represents g as a SCIM Group. members are shown only when
// includeMembers is set, so that callers can skip loading them when the
// request excludes them; baseURL is the SCIM base, as for UserToSCIM.
// Empty values are left out.
func GroupToSCIM(g *authority.Group, members []MemberRef, includeMembers bool, baseURL string) map[string]any {
	baseURL = strings.TrimRight(baseURL, "/")
	res := map[string]any{}
	schemas := []any{schema.GroupURN}
	put(res, "id", g.ID)
	put(res, "externalId", g.ExternalID)
	put(res, "displayName", g.DisplayName)
	if includeMembers {
		var ms []any
		for _, m := range members {
			e := map[string]any{"value": m.ID, "$ref": baseURL + "/Users/" + m.ID, "type": "User"}
			put(e, "display", m.Display)
			ms = append(ms, e)
		}
		putList(res, "members", ms)
	}
	px := map[string]any{}
	putInt(px, "gidNumber", g.GIDNumber)
	if putObj(res, schema.PosixGroupURN, px) {
		schemas = append(schemas, schema.PosixGroupURN)
	}
	putObj(res, "meta", meta("Group", baseURL+"/Groups/", g.ID, g.Created, g.Modified, g.Version))
	res["schemas"] = schemas
	return res
}

// GroupFromSCIM applies a full Group representation (a POST or PUT body)
// to g: displayName and externalId take the values given (absent clears
// externalId), the POSIX gidNumber is kept when absent. g is only changed
// when there is no error; errors are *scimerr.Error with status 400.
//
// members are returned rather than applied, since they live apart from
// the group's record: the member ids in the order given, without
// duplicates, and whether the body had a members attribute at all, so
// that the caller can tell "no members" (an empty list or null) from "not
// said". Only users can be members: an entry whose type is not User is an
// error, as is one without a value. The group's description is not a SCIM
// attribute and is never touched.
func GroupFromSCIM(res map[string]any, g *authority.Group) (members []string, membersGiven bool, err error) {
	rt := schema.NewGroupType()
	b, err := readBody(rt, res)
	if err != nil {
		return nil, false, err
	}
	core := rt.Core
	n := *g
	n.DisplayName = b.str(core.Attr("displayName"))
	if n.DisplayName == "" {
		return nil, false, scimerr.BadRequest(scimerr.InvalidValue, "displayName is required")
	}
	n.ExternalID = b.str(core.Attr("externalId"))
	if v, ok := b.vals[rt.SchemaByURN(schema.PosixGroupURN).Attr("gidNumber")].(int64); ok {
		n.GIDNumber = v
	}

	ma := core.Attr("members")
	_, membersGiven = b.vals[ma]
	seen := map[string]bool{}
	for i, e := range b.list(ma) {
		m := e.(map[*schema.Attribute]any)
		id := subStr(m, ma, "value")
		if id == "" {
			return nil, false, scimerr.BadRequest(scimerr.InvalidValue, "members: entry %d has no value; each member is given by the user's id in value", i)
		}
		if t := subStr(m, ma, "type"); t != "" && !strings.EqualFold(t, "User") {
			return nil, false, scimerr.BadRequest(scimerr.InvalidValue, "members: %q has type %q, but only users can be members of a Headwater group (nested groups are not supported)", id, t)
		}
		if !seen[id] {
			seen[id] = true
			members = append(members, id)
		}
	}
	*g = n
	return members, membersGiven, nil
}
