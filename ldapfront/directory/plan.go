package directory

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/headwater/headwater/authority"
)

// cands is the set of records of one kind a filter can match: every record
// (all), or only ids. It never misses a match; the filter is still
// evaluated on every candidate.
type cands struct {
	all bool
	ids []string
}

var (
	scanAll = cands{all: true}
	noCands = cands{}
)

func (c cands) and(o cands) cands {
	switch {
	case c.all:
		return o
	case o.all:
		return c
	}
	var out []string
	for _, id := range c.ids {
		if slices.Contains(o.ids, id) {
			out = append(out, id)
		}
	}
	return cands{ids: out}
}

func (c cands) or(o cands) cands {
	if c.all || o.all {
		return scanAll
	}
	out := slices.Clone(c.ids)
	for _, id := range o.ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return cands{ids: out}
}

// plan holds the candidates per kind of leaf record.
type plan struct{ users, groups, services cands }

func (p plan) and(o plan) plan {
	return plan{p.users.and(o.users), p.groups.and(o.groups), p.services.and(o.services)}
}

func (p plan) or(o plan) plan {
	return plan{p.users.or(o.users), p.groups.or(o.groups), p.services.or(o.services)}
}

var scanEverything = plan{scanAll, scanAll, scanAll}

// maxIndexed caps the or-combination of lookups; past it a scan is as
// cheap and keeps ordering simple.
const maxIndexed = 256

// kindAttrs lists, per kind, the attributes its entries can carry; an item
// on any other attribute cannot be true for that kind.
var kindAttrs = map[string]map[string]bool{
	KindUser: set("objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "title",
		"telephoneNumber", "employeeNumber", "departmentNumber", "uidNumber", "gidNumber",
		"homeDirectory", "loginShell", "memberOf", "pwdAccountLockedTime"),
	KindGroup:   set("objectClass", "cn", "description", "gidNumber", "member", "uniqueMember", "memberUid"),
	KindService: set("objectClass", "cn", "description", "pwdAccountLockedTime"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	for _, n := range []string{"entryUUID", "entryDN", "structuralObjectClass", "createTimestamp", "modifyTimestamp", "subschemaSubentry", "hasSubordinates"} {
		m[n] = true
	}
	return m
}

var kindClasses = map[string][]string{KindUser: userClasses, KindGroup: groupClasses, KindService: serviceClasses}

// planFilter answers what it can from the authority's indexes: equality
// on uid, mail, cn, entryUUID, memberOf, member, uniqueMember, memberUid,
// uidNumber, gidNumber and objectClass.
func (d *Directory) planFilter(ctx context.Context, f *filter) (plan, error) {
	switch f.tag {
	case tagAnd:
		p := scanEverything
		for _, k := range f.kids {
			kp, err := d.planFilter(ctx, k)
			if err != nil {
				return plan{}, err
			}
			p = p.and(kp)
		}
		return p, nil
	case tagOr:
		p := plan{}
		for _, k := range f.kids {
			kp, err := d.planFilter(ctx, k)
			if err != nil {
				return plan{}, err
			}
			p = p.or(kp)
		}
		for _, c := range []*cands{&p.users, &p.groups, &p.services} {
			if len(c.ids) > maxIndexed {
				*c = scanAll
			}
		}
		return p, nil
	case tagNot:
		return scanEverything, nil
	}
	if f.tag == tagExtensible && (f.attrName == "" || f.dnAttrs) {
		return scanEverything, nil
	}
	if f.attr == nil {
		return plan{}, nil // False or Undefined for every entry
	}
	p := plan{}
	for kind, c := range map[string]*cands{KindUser: &p.users, KindGroup: &p.groups, KindService: &p.services} {
		if kindAttrs[kind][f.attr.name] {
			*c = scanAll
		}
	}
	eq := f.tag == tagEquality || f.tag == tagApprox ||
		(f.tag == tagExtensible && (f.rule == ruleEquality || f.rule == ruleDN || f.rule == ruleInChain))
	if !eq {
		return p, nil
	}
	if !f.val.ok {
		return plan{}, nil
	}
	var err error
	switch f.attr.name {
	case "objectClass":
		for kind, c := range map[string]*cands{KindUser: &p.users, KindGroup: &p.groups, KindService: &p.services} {
			if !slices.ContainsFunc(kindClasses[kind], func(s string) bool { return strings.EqualFold(s, f.val.norm) }) {
				*c = noCands
			}
		}
	case "uid":
		p.users, err = d.userCands(ctx, authority.ByUserName, f.raw)
	case "mail":
		p.users, err = d.userCands(ctx, authority.ByEmail, f.raw)
	case "uidNumber":
		p.users, err = d.userCands(ctx, authority.ByUIDNumber, f.val.norm)
	case "cn":
		p.groups, err = d.groupCands(ctx, authority.ByDisplayName, strings.TrimSpace(f.raw))
		if err == nil {
			p.services, err = d.serviceCands(ctx, strings.TrimSpace(f.raw))
		}
	case "gidNumber":
		p.groups, err = d.groupCands(ctx, authority.ByGIDNumber, f.val.norm)
	case "entryUUID":
		p, err = d.uuidCands(ctx, strings.TrimSpace(f.raw))
	case "memberOf":
		p.users, err = d.memberCands(ctx, f.raw)
	case "member", "uniqueMember":
		p.groups, err = d.groupsOfCands(ctx, f.raw, false)
	case "memberUid":
		p.groups, err = d.groupsOfCands(ctx, f.raw, true)
	}
	return p, err
}

// found turns a lookup into candidates: a missing record is an empty set.
func found(id string, err error) (cands, error) {
	if errors.Is(err, authority.ErrNotFound) {
		return noCands, nil
	}
	if err != nil {
		return noCands, err
	}
	return cands{ids: []string{id}}, nil
}

func (d *Directory) userCands(ctx context.Context, by authority.LookupField, v string) (cands, error) {
	u, err := d.auth.LookupUser(ctx, by, strings.TrimSpace(v))
	if err != nil {
		return found("", err)
	}
	return found(u.ID, nil)
}

func (d *Directory) groupCands(ctx context.Context, by authority.LookupField, v string) (cands, error) {
	g, err := d.auth.LookupGroup(ctx, by, v)
	if err != nil {
		return found("", err)
	}
	return found(g.ID, nil)
}

func (d *Directory) serviceCands(ctx context.Context, name string) (cands, error) {
	sa, err := d.auth.LookupServiceAccount(ctx, name)
	if err != nil {
		return found("", err)
	}
	return found(sa.ID, nil)
}

func (d *Directory) uuidCands(ctx context.Context, id string) (plan, error) {
	var p plan
	var err error
	_, err = d.auth.GetUser(ctx, id)
	if p.users, err = found(id, err); err != nil {
		return p, err
	}
	_, err = d.auth.GetGroup(ctx, id)
	if p.groups, err = found(id, err); err != nil {
		return p, err
	}
	_, err = d.auth.GetServiceAccount(ctx, id)
	p.services, err = found(id, err)
	return p, err
}

// memberCands resolves memberOf=<group DN> to the group's members. A
// large group is scanned in name order instead, checked by the filter.
func (d *Directory) memberCands(ctx context.Context, groupDN string) (cands, error) {
	kind, id, err := d.Resolve(ctx, groupDN)
	if errors.Is(err, ErrNoSuchObject) || errors.Is(err, ErrInvalidDN) || (err == nil && kind != KindGroup) {
		return noCands, nil
	}
	if err != nil {
		return noCands, err
	}
	p, err := d.auth.Members(ctx, id, authority.ListOptions{Limit: maxIndexed + 1})
	if err != nil {
		return found("", err)
	}
	if p.Next != "" || len(p.Items) > maxIndexed {
		return scanAll, nil
	}
	return cands{ids: p.Items}, nil
}

// groupsOfCands resolves member=<user DN> (or memberUid=<userName>) to the
// user's groups.
func (d *Directory) groupsOfCands(ctx context.Context, v string, byName bool) (cands, error) {
	var uid string
	if byName {
		u, err := d.auth.LookupUser(ctx, authority.ByUserName, strings.TrimSpace(v))
		if err != nil {
			return found("", err)
		}
		uid = u.ID
	} else {
		kind, id, err := d.Resolve(ctx, v)
		if errors.Is(err, ErrNoSuchObject) || errors.Is(err, ErrInvalidDN) || (err == nil && kind != KindUser) {
			return noCands, nil
		}
		if err != nil {
			return noCands, err
		}
		uid = id
	}
	ids, err := d.auth.GroupsOf(ctx, uid)
	if err != nil {
		return noCands, err
	}
	return cands{ids: ids}, nil
}
