package directory

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/wire"
)

// entry is one rendered LDAP entry. Attributes are indexed by attrDef.idx
// and only those in the loader's mask are filled: a search renders what its
// filter reads and its selection returns, nothing else.
type entry struct {
	dn     string
	kind   string
	id     string
	key    string // the lowercased name entries of one kind are ordered by
	mask   *attrMask
	attrs  [numAttrs][]string
	values *[numAttrs][]value // matching forms, filled on first use
	rdns   []rdn              // for dnAttributes matching, filled on first use
}

// attrMask says which attributes to render; nil renders all.
type attrMask [numAttrs]bool

func (l *loader) newEntry(kind, id, key, dn string) *entry {
	return &entry{kind: kind, id: id, key: key, dn: dn, mask: l.mask}
}

// needs reports whether d is to be rendered.
func (e *entry) needs(d *attrDef) bool { return e.mask == nil || e.mask[d.idx] }

// set adds the non-empty values of d, when d is to be rendered.
func (e *entry) set(d *attrDef, vals ...string) {
	if !e.needs(d) {
		return
	}
	for _, v := range vals {
		if v != "" {
			e.attrs[d.idx] = append(e.attrs[d.idx], v)
		}
	}
}

// matching returns the values of d in matching form.
func (e *entry) matching(d *attrDef) []value {
	if e.values == nil {
		e.values = new([numAttrs][]value)
	}
	if vs := e.values[d.idx]; vs != nil {
		return vs
	}
	raw := e.attrs[d.idx]
	vs := make([]value, len(raw))
	for i, v := range raw {
		vs[i] = normalize(d.syntax, v)
	}
	e.values[d.idx] = vs
	return vs
}

// render selects attributes for a SearchResultEntry (RFC 4511 section
// 4.5.1.8): sel decides which, typesOnly drops values.
func (e *entry) render(sel selection, typesOnly bool) wire.SearchResultEntry {
	out := wire.SearchResultEntry{DN: e.dn}
	if sel.none {
		return out
	}
	n := 0
	for _, d := range attrDefs {
		if len(e.attrs[d.idx]) > 0 && sel.wants(d) {
			n++
		}
	}
	out.Attributes = make([]wire.Attribute, 0, n)
	for _, d := range attrDefs {
		vals := e.attrs[d.idx]
		if len(vals) == 0 || !sel.wants(d) {
			continue
		}
		a := wire.Attribute{Type: d.name}
		if !typesOnly {
			// Entries are built per operation and not kept: no copy.
			a.Values = vals
		}
		out.Attributes = append(out.Attributes, a)
	}
	return out
}

// selection is a parsed requested-attributes list.
type selection struct {
	allUser bool // "*", or an empty list
	allOper bool // "+"
	none    bool // only "1.1"
	named   map[*attrDef]bool
}

func parseSelection(attrs []string) selection {
	s := selection{named: map[*attrDef]bool{}}
	if len(attrs) == 0 {
		s.allUser = true
		return s
	}
	onlyNoAttrs := true
	for _, a := range attrs {
		a = strings.TrimSpace(a)
		switch a {
		case "1.1":
			continue
		case "*":
			s.allUser = true
		case "+":
			s.allOper = true
		default:
			if d := lookupAttr(a); d != nil {
				s.named[d] = true
			}
		}
		onlyNoAttrs = false
	}
	s.none = onlyNoAttrs
	return s
}

func (s selection) wants(d *attrDef) bool {
	if s.named[d] {
		return true
	}
	if d.operational {
		return s.allOper
	}
	return s.allUser
}

// loader renders records into entries for one operation, caching the
// names it needs to render memberships.
type loader struct {
	d   *Directory
	ctx context.Context
	// needMemberOf and needMembers say whether the expensive membership
	// attributes must be rendered (the filter or the selection uses them).
	needMemberOf, needMembers bool
	// mask limits rendering to the attributes an operation uses; nil
	// renders every attribute.
	mask      *attrMask
	groupDNs  map[string]string // group id -> DN
	userNames map[string]string // user id -> userName
}

func (d *Directory) newLoader(ctx context.Context, all bool) *loader {
	return &loader{d: d, ctx: ctx, needMemberOf: all, needMembers: all,
		groupDNs: map[string]string{}, userNames: map[string]string{}}
}

var (
	userClasses    = []string{"top", "person", "organizationalPerson", "inetOrgPerson", "posixAccount"}
	groupClasses   = []string{"top", "groupOfNames", "groupOfUniqueNames", "posixGroup"}
	serviceClasses = []string{"top", "applicationProcess", "simpleSecurityObject"}
	ouClasses      = []string{"top", "organizationalUnit"}
	baseClasses    = []string{"top", "dcObject", "organization"}
)

// lockedForever is ppolicy's pwdAccountLockedTime for an account locked
// until an administrator unlocks it.
const lockedForever = "000001010000Z"

func (l *loader) user(u *authority.User) (*entry, error) {
	d := l.d
	dn := d.UserDN(u.UserName)
	e := l.newEntry(KindUser, u.ID, strings.ToLower(u.UserName), dn)
	e.set(aObjectClass, userClasses...)
	e.set(aUid, u.UserName)
	e.set(aCn, commonName(u))
	sn := u.Name.FamilyName
	if sn == "" {
		sn = u.UserName
	}
	e.set(aSn, sn)
	e.set(aGivenName, u.Name.GivenName)
	e.set(aDisplayName, u.DisplayName)
	for _, m := range u.Emails {
		e.set(aMail, m.Value)
	}
	e.set(aTitle, u.Title)
	for _, p := range u.PhoneNumbers {
		e.set(aTelephoneNumber, p.Value)
	}
	e.set(aEmployeeNumber, u.Enterprise.EmployeeNumber)
	e.set(aDepartmentNumber, u.Enterprise.Department)
	if e.needs(aUidNumber) {
		e.set(aUidNumber, strconv.FormatInt(u.UIDNumber, 10))
	}
	if e.needs(aGidNumber) {
		e.set(aGidNumber, strconv.FormatInt(u.GIDNumber, 10))
	}
	home := u.HomeDirectory
	if home == "" {
		home = "/home/" + u.UserName
	}
	e.set(aHomeDirectory, home)
	shell := u.LoginShell
	if shell == "" {
		shell = "/bin/bash"
	}
	e.set(aLoginShell, shell)
	if l.needMemberOf {
		ids, err := d.auth.GroupsOf(l.ctx, u.ID)
		if err != nil {
			return nil, err
		}
		for _, gid := range ids {
			gdn, err := l.groupDN(gid)
			if err != nil {
				return nil, err
			}
			e.set(aMemberOf, gdn)
		}
	}
	if u.State != authority.StateActive {
		e.set(aPwdAccountLockedTime, lockedForever)
	}
	l.operational(e, "inetOrgPerson", u.ID, u.Created, u.Modified, false)
	return e, nil
}

// commonName is displayName, else "given family", else userName.
func commonName(u *authority.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName); n != "" {
		return n
	}
	return u.UserName
}

func (l *loader) groupDN(id string) (string, error) {
	if dn, ok := l.groupDNs[id]; ok {
		return dn, nil
	}
	g, err := l.d.auth.GetGroup(l.ctx, id)
	if errors.Is(err, authority.ErrNotFound) {
		return "", nil // deleted meanwhile
	}
	if err != nil {
		return "", err
	}
	dn := l.d.GroupDN(g.DisplayName)
	l.groupDNs[id] = dn
	return dn, nil
}

func (l *loader) userName(id string) (string, error) {
	if n, ok := l.userNames[id]; ok {
		return n, nil
	}
	u, err := l.d.auth.GetUser(l.ctx, id)
	if errors.Is(err, authority.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	l.userNames[id] = u.UserName
	return u.UserName, nil
}

func (l *loader) group(g *authority.Group) (*entry, error) {
	d := l.d
	e := l.newEntry(KindGroup, g.ID, strings.ToLower(g.DisplayName), d.GroupDN(g.DisplayName))
	e.set(aObjectClass, groupClasses...)
	e.set(aCn, g.DisplayName)
	e.set(aDescription, g.Description)
	e.set(aGidNumber, strconv.FormatInt(g.GIDNumber, 10))
	if l.needMembers {
		opts := authority.ListOptions{Limit: 1000}
		for {
			p, err := d.auth.Members(l.ctx, g.ID, opts)
			if err != nil {
				return nil, err
			}
			for _, uid := range p.Items {
				name, err := l.userName(uid)
				if err != nil {
					return nil, err
				}
				if name == "" {
					continue
				}
				udn := d.UserDN(name)
				e.set(aMember, udn)
				e.set(aUniqueMember, udn)
				e.set(aMemberUid, name)
			}
			if p.Next == "" || len(p.Items) == 0 {
				break
			}
			opts.After = p.Next
		}
	}
	l.operational(e, "groupOfNames", g.ID, g.Created, g.Modified, false)
	return e, nil
}

func (l *loader) service(sa *authority.ServiceAccount) *entry {
	e := l.newEntry(KindService, sa.ID, strings.ToLower(sa.Name), l.d.ServiceDN(sa.Name))
	e.set(aObjectClass, serviceClasses...)
	e.set(aCn, sa.Name)
	e.set(aDescription, sa.Description)
	if sa.Disabled {
		e.set(aPwdAccountLockedTime, lockedForever)
	}
	l.operational(e, "applicationProcess", sa.ID, sa.Created, sa.Modified, false)
	return e
}

// containerOrder is the order containers are visited in.
var containerOrder = []string{ContainerBase, ContainerPeople, ContainerGroups, ContainerServices}

func (l *loader) container(c string) *entry {
	d := l.d
	e := l.newEntry(KindContainer, c, c, d.containerDN(c))
	if c == ContainerBase {
		// The base is named by its first RDN; dcObject only fits a dc=.
		first := d.base[0]
		if first.typ == "dc" {
			e.set(aObjectClass, baseClasses...)
			e.set(aDc, first.raw)
		} else {
			e.set(aObjectClass, "top", "organization")
		}
		e.set(aO, first.raw)
		l.operational(e, "organization", "", time.Time{}, time.Time{}, true)
		return e
	}
	e.set(aObjectClass, ouClasses...)
	e.set(aOu, c)
	l.operational(e, "organizationalUnit", "", time.Time{}, time.Time{}, true)
	return e
}

// SubschemaDN is the DN of the subschema entry the server publishes; every
// entry points to it.
const SubschemaDN = "cn=Subschema"

func (l *loader) operational(e *entry, structural, id string, created, modified time.Time, subordinates bool) {
	e.set(aEntryUUID, id)
	e.set(aEntryDN, e.dn)
	e.set(aStructuralObjectClass, structural)
	if !created.IsZero() && e.needs(aCreateTimestamp) {
		e.set(aCreateTimestamp, formatTime(created))
	}
	if !modified.IsZero() && e.needs(aModifyTimestamp) {
		e.set(aModifyTimestamp, formatTime(modified))
	}
	e.set(aSubschemaSubentry, SubschemaDN)
	if subordinates {
		e.set(aHasSubordinates, "TRUE")
	} else {
		e.set(aHasSubordinates, "FALSE")
	}
}
