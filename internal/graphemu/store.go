package graphemu

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// tenant is one directory's state. Every field is guarded by Emulator.mu.
type tenant struct {
	id      string
	domains []Domain
	apps    []App

	users      map[string]*user  // live users by id
	byUPN      map[string]string // lowercased userPrincipalName -> id
	order      []string          // live ids, sorted: the paging order
	tombstones []*user           // deleted users, kept for delta's @removed entries
	byMail     map[string]int    // live users per lowercased mail, so uniqueness checks stay O(1)

	// seq numbers every change in the tenant; delta tokens remember a seq and later return
	// whatever changed after it.
	seq uint64
	// deltaEpoch is bumped by ResyncDelta; tokens from an older epoch get 410 Gone.
	deltaEpoch int
}

// user is a directory user. props holds the user's Graph properties under their canonical
// names: string, bool or []string values, or nil (null).
type user struct {
	props map[string]any

	password        string
	forceChange     bool
	passwordChanges int

	createdAt  time.Time // zero for seeded users: never inside the replication window
	createdSeq uint64
	propSeq    map[string]uint64 // last change of each property
	deletedSeq uint64
}

func (u *user) id() string  { return u.str("id") }
func (u *user) upn() string { return u.str("userPrincipalName") }

func (u *user) str(name string) string {
	s, _ := u.props[name].(string)
	return s
}

func (u *user) boolean(name string) bool {
	b, _ := u.props[name].(bool)
	return b
}

// set changes a property and records the change for delta, unless the value is unchanged.
func (t *tenant) set(u *user, name string, v any) {
	if old, ok := u.props[name]; ok && equalValue(old, v) {
		return
	}
	t.seq++
	if name == "mail" && t.users[u.id()] == u {
		t.countMail(u.str("mail"), -1)
		if m, _ := v.(string); m != "" {
			t.countMail(m, 1)
		}
	}
	u.props[name] = v
	u.propSeq[name] = t.seq
}

func (t *tenant) countMail(mail string, d int) {
	if mail == "" {
		return
	}
	k := strings.ToLower(mail)
	if t.byMail[k] += d; t.byMail[k] <= 0 {
		delete(t.byMail, k)
	}
}

func equalValue(a, b any) bool {
	switch av := a.(type) {
	case []string:
		bv, ok := b.([]string)
		return ok && slices.Equal(av, bv)
	case nil:
		return b == nil
	default:
		return a == b
	}
}

func newTenant(tc TenantConfig) *tenant {
	t := &tenant{
		id:      strings.ToLower(strings.TrimSpace(tc.ID)),
		domains: slices.Clone(tc.Domains),
		apps:    slices.Clone(tc.Apps),
		users:   map[string]*user{},
		byUPN:   map[string]string{},
		byMail:  map[string]int{},
	}
	if len(t.domains) == 0 {
		t.domains = []Domain{{Name: t.id + ".onmicrosoft.com", Verified: true, Default: true}}
	}
	t.fixDefaultDomain()
	return t
}

// fixDefaultDomain keeps exactly one default domain, as Entra does: the first one marked
// default, else the first verified one.
func (t *tenant) fixDefaultDomain() {
	def := -1
	for i, d := range t.domains {
		if d.Default && def < 0 {
			def = i
		}
	}
	if def < 0 {
		for i, d := range t.domains {
			if d.Verified {
				def = i
				break
			}
		}
	}
	for i := range t.domains {
		t.domains[i].Default = i == def
	}
}

func (t *tenant) verifiedDomain(name string) bool {
	for _, d := range t.domains {
		if d.Verified && strings.EqualFold(d.Name, name) {
			return true
		}
	}
	return false
}

func (t *tenant) hasDomain(name string) bool {
	for _, d := range t.domains {
		if strings.EqualFold(d.Name, name) {
			return true
		}
	}
	return false
}

// lookup finds a live user by object id or userPrincipalName, as /users/{id | UPN} does.
func (t *tenant) lookup(key string) *user {
	if u, ok := t.users[key]; ok {
		return u
	}
	if u, ok := t.users[strings.ToLower(key)]; ok {
		return u
	}
	if id, ok := t.byUPN[strings.ToLower(key)]; ok {
		return t.users[id]
	}
	return nil
}

func (t *tenant) insert(u *user) {
	t.seq++
	u.createdSeq = t.seq
	for name := range u.props {
		u.propSeq[name] = t.seq
	}
	id := u.id()
	t.users[id] = u
	t.byUPN[strings.ToLower(u.upn())] = id
	t.countMail(u.str("mail"), 1)
	i, _ := slices.BinarySearch(t.order, id)
	t.order = slices.Insert(t.order, i, id)
}

func (t *tenant) renameUPN(u *user, upn string) {
	delete(t.byUPN, strings.ToLower(u.upn()))
	t.set(u, "userPrincipalName", upn)
	t.byUPN[strings.ToLower(upn)] = u.id()
}

// remove soft-deletes a user: Graph moves deleted users to deletedItems, which delta reports
// as @removed with reason "changed".
func (t *tenant) remove(u *user) {
	id := u.id()
	delete(t.users, id)
	delete(t.byUPN, strings.ToLower(u.upn()))
	t.countMail(u.str("mail"), -1)
	if i, ok := slices.BinarySearch(t.order, id); ok {
		t.order = slices.Delete(t.order, i, i+1)
	}
	t.seq++
	u.deletedSeq = t.seq
	t.tombstones = append(t.tombstones, u)
}

// mailTaken reports whether another live user already has this mail address.
func (t *tenant) mailTaken(mail, exceptID string) bool {
	if mail == "" {
		return false
	}
	n := t.byMail[strings.ToLower(mail)]
	if u := t.users[exceptID]; u != nil && strings.EqualFold(u.str("mail"), mail) {
		n--
	}
	return n > 0
}

// newObjectID returns a random UUID (version 4), the shape of Entra object ids.
func newObjectID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("graphemu: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomToken returns an opaque URL-safe token.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("graphemu: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
