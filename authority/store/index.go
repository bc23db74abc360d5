package store

import (
	"strings"
	"sync"

	"github.com/google/btree"
)

// index is the in-memory view of users, groups, memberships, service
// accounts and tokens. Records in it are never modified in place: an update
// replaces the pointer, so a reader holding one sees a consistent record.
type index struct {
	mu  sync.RWMutex
	rev int64

	users       map[string]*User
	userByName  map[string]*User
	userByEmail map[string]*User
	userByExt   map[string]*User
	userByUID   map[int64]*User
	userOrder   *btree.BTreeG[nameItem]

	groups      map[string]*Group
	groupByName map[string]*Group
	groupByExt  map[string]*Group
	groupByGID  map[int64]*Group
	groupOrder  *btree.BTreeG[nameItem]

	// members maps a group id to its member ids, ordered so that pages of
	// a 100,000-member group cost their own size; memberOf is the reverse,
	// a slice because most users are in few groups.
	members  map[string]*btree.BTreeG[string]
	memberOf map[string][]string

	serviceAccounts map[string]*ServiceAccount
	saByName        map[string]*ServiceAccount
	saOrder         *btree.BTreeG[nameItem]

	tokens        map[string]*Token
	tokenByDigest map[string]*Token
}

// nameItem orders records by lowercased name, then id (names are unique,
// the id only breaks ties during a rename).
type nameItem struct {
	name string
	id   string
}

func lessName(a, b nameItem) bool {
	if a.name != b.name {
		return a.name < b.name
	}
	return a.id < b.id
}

func newIndex() *index { return newIndexSized(0, 0, 0) }

// newIndexSized makes the maps every user or group is in big enough from
// the start: at a million users, rehashing while loading costs seconds.
// Maps only some records are in (externalId, memberships) grow as needed.
func newIndexSized(users, groups, members int) *index {
	return &index{
		users:           make(map[string]*User, users),
		userByName:      make(map[string]*User, users),
		userByEmail:     make(map[string]*User, users),
		userByExt:       map[string]*User{},
		userByUID:       make(map[int64]*User, users),
		userOrder:       btree.NewG(32, lessName),
		groups:          make(map[string]*Group, groups),
		groupByName:     make(map[string]*Group, groups),
		groupByExt:      make(map[string]*Group, groups),
		groupByGID:      make(map[int64]*Group, groups),
		groupOrder:      btree.NewG(32, lessName),
		members:         map[string]*btree.BTreeG[string]{},
		memberOf:        make(map[string][]string, min(members, users)),
		serviceAccounts: map[string]*ServiceAccount{},
		saByName:        map[string]*ServiceAccount{},
		saOrder:         btree.NewG(32, lessName),
		tokens:          map[string]*Token{},
		tokenByDigest:   map[string]*Token{},
	}
}

// The put/remove methods below are called with mu held for writing.

func (x *index) putUser(u *User) {
	if old := x.users[u.ID]; old != nil {
		x.removeUser(old.ID)
	}
	x.users[u.ID] = u
	x.userByName[strings.ToLower(u.UserName)] = u
	for _, e := range u.Emails {
		if e.Value != "" {
			x.userByEmail[strings.ToLower(e.Value)] = u
		}
	}
	if u.ExternalID != "" {
		x.userByExt[u.ExternalID] = u
	}
	if u.UIDNumber != 0 {
		x.userByUID[u.UIDNumber] = u
	}
	x.userOrder.ReplaceOrInsert(nameItem{strings.ToLower(u.UserName), u.ID})
}

// removeUser drops a user's lookups. Its memberships stay until their own
// keys are deleted, which DeleteUser does in the same transaction.
func (x *index) removeUser(id string) {
	u := x.users[id]
	if u == nil {
		return
	}
	delete(x.users, id)
	deleteIf(x.userByName, strings.ToLower(u.UserName), u)
	for _, e := range u.Emails {
		deleteIf(x.userByEmail, strings.ToLower(e.Value), u)
	}
	if u.ExternalID != "" {
		deleteIf(x.userByExt, u.ExternalID, u)
	}
	if u.UIDNumber != 0 {
		deleteIf(x.userByUID, u.UIDNumber, u)
	}
	x.userOrder.Delete(nameItem{strings.ToLower(u.UserName), u.ID})
}

func (x *index) putGroup(g *Group) {
	if old := x.groups[g.ID]; old != nil {
		x.removeGroup(old.ID)
	}
	x.groups[g.ID] = g
	x.groupByName[strings.ToLower(g.DisplayName)] = g
	if g.ExternalID != "" {
		x.groupByExt[g.ExternalID] = g
	}
	if g.GIDNumber != 0 {
		x.groupByGID[g.GIDNumber] = g
	}
	x.groupOrder.ReplaceOrInsert(nameItem{strings.ToLower(g.DisplayName), g.ID})
}

func (x *index) removeGroup(id string) {
	g := x.groups[id]
	if g == nil {
		return
	}
	delete(x.groups, id)
	deleteIf(x.groupByName, strings.ToLower(g.DisplayName), g)
	if g.ExternalID != "" {
		deleteIf(x.groupByExt, g.ExternalID, g)
	}
	if g.GIDNumber != 0 {
		deleteIf(x.groupByGID, g.GIDNumber, g)
	}
	x.groupOrder.Delete(nameItem{strings.ToLower(g.DisplayName), g.ID})
}

func (x *index) putMember(groupID, userID string) {
	m := x.members[groupID]
	if m == nil {
		m = btree.NewG(32, func(a, b string) bool { return a < b })
		x.members[groupID] = m
	}
	if _, existed := m.ReplaceOrInsert(userID); existed {
		return
	}
	x.memberOf[userID] = append(x.memberOf[userID], groupID)
}

func (x *index) isMember(groupID, userID string) bool {
	m := x.members[groupID]
	return m != nil && m.Has(userID)
}

func (x *index) removeMember(groupID, userID string) {
	m := x.members[groupID]
	if m == nil {
		return
	}
	if _, ok := m.Delete(userID); !ok {
		return
	}
	if m.Len() == 0 {
		delete(x.members, groupID)
	}
	gs := x.memberOf[userID]
	for i, g := range gs {
		if g == groupID {
			gs = append(gs[:i:i], gs[i+1:]...)
			break
		}
	}
	if len(gs) == 0 {
		delete(x.memberOf, userID)
	} else {
		x.memberOf[userID] = gs
	}
}

func (x *index) putServiceAccount(sa *ServiceAccount) {
	if old := x.serviceAccounts[sa.ID]; old != nil {
		x.removeServiceAccount(old.ID)
	}
	x.serviceAccounts[sa.ID] = sa
	x.saByName[strings.ToLower(sa.Name)] = sa
	x.saOrder.ReplaceOrInsert(nameItem{strings.ToLower(sa.Name), sa.ID})
}

func (x *index) removeServiceAccount(id string) {
	sa := x.serviceAccounts[id]
	if sa == nil {
		return
	}
	delete(x.serviceAccounts, id)
	deleteIf(x.saByName, strings.ToLower(sa.Name), sa)
	x.saOrder.Delete(nameItem{strings.ToLower(sa.Name), sa.ID})
}

func (x *index) putToken(t *Token) {
	if old := x.tokens[t.ID]; old != nil {
		x.removeToken(old.ID)
	}
	x.tokens[t.ID] = t
	x.tokenByDigest[t.Digest] = t
}

func (x *index) removeToken(id string) {
	t := x.tokens[id]
	if t == nil {
		return
	}
	delete(x.tokens, id)
	deleteIf(x.tokenByDigest, t.Digest, t)
}

// deleteIf removes m[k] only when it still points at v: during a rename
// or an email swap between two users, another record may already own k.
func deleteIf[K comparable, V comparable](m map[K]V, k K, v V) {
	if m[k] == v {
		delete(m, k)
	}
}

// page walks an ordered tree and resolves items to records.
func page[T any](tree *btree.BTreeG[nameItem], opts ListOptions, get func(id string) (T, bool)) Page[T] {
	limit := opts.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > MaxPageSize {
		limit = MaxPageSize
	}
	p := Page[T]{Total: tree.Len()}
	skip := opts.Offset
	var last nameItem
	more := false
	visit := func(it nameItem) bool {
		if opts.After != "" && it.name <= opts.After {
			return true
		}
		if skip > 0 {
			skip--
			return true
		}
		if len(p.Items) == limit {
			more = true
			return false
		}
		if r, ok := get(it.id); ok {
			p.Items = append(p.Items, r)
			last = it
		}
		return true
	}
	if opts.After != "" {
		tree.AscendGreaterOrEqual(nameItem{name: opts.After + "\x00"}, visit)
	} else {
		tree.Ascend(visit)
	}
	if more {
		p.Next = last.name
	}
	return p
}
