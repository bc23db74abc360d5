package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key layout under the prefix (default /headwater/):
//
//	users/<id>                   user record (JSON)
//	groups/<id>                  group record
//	members/<groupID>/<userID>   one key per membership, empty value
//	serviceaccounts/<id>         service account record
//	tokens/<id>                  token record
//	bindings/<userID>/<dir>      binding record
//	outbox/<dir>/<userID>/<kind> sealed outbox entry
//	audit/<yyyymmdd>/<id>        audit event; ids sort by time
//	idx/<kind>/<field>/<value>   uniqueness key; value is the record id
//	counters/<name>              allocation counters
//	objects/<kind>/<key>         small records read by key (sessions, SPs, keys), often with a lease
const (
	colUsers           = "users/"
	colGroups          = "groups/"
	colMembers         = "members/"
	colServiceAccounts = "serviceaccounts/"
	colTokens          = "tokens/"
	colBindings        = "bindings/"
	colOutbox          = "outbox/"
	colAudit           = "audit/"
	colIndex           = "idx/"
	colCounters        = "counters/"
	colObjects         = "objects/"
)

// unique is one uniqueness constraint of a record: a key under idx/ whose
// value is the id of the record holding it.
type unique struct {
	field string // as shown to users: userName, email, ...
	value string // normalised: lowercased where the field is case-insensitive
}

func (s *Etcd) key(parts ...string) string {
	return s.prefix + strings.Join(parts, "")
}

func (s *Etcd) uniqueKey(kind string, u unique) string {
	return s.prefix + colIndex + kind + "/" + u.field + "/" + u.value
}

// prefixEnd returns the end of the range of keys starting with p.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// auditID makes an id that sorts by time: nanoseconds, then randomness.
func auditID(t time.Time, rnd string) string {
	return fmt.Sprintf("%020d-%s", t.UnixNano(), rnd)
}

// auditDay is the day folder of an audit id.
func auditDay(id string) (string, error) {
	ns, _, ok := strings.Cut(id, "-")
	if !ok {
		return "", fmt.Errorf("malformed audit id %q", id)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return "", fmt.Errorf("malformed audit id %q: %w", id, err)
	}
	return time.Unix(0, n).UTC().Format("20060102"), nil
}

func userUniques(u *User) []unique {
	out := []unique{{"userName", strings.ToLower(u.UserName)}}
	seen := map[string]bool{}
	for _, e := range u.Emails {
		v := strings.ToLower(e.Value)
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, unique{"email", v})
		}
	}
	if u.ExternalID != "" {
		out = append(out, unique{"externalId", u.ExternalID})
	}
	if u.UIDNumber != 0 {
		out = append(out, unique{"uidNumber", strconv.FormatInt(u.UIDNumber, 10)})
	}
	return out
}

func groupUniques(g *Group) []unique {
	out := []unique{{"displayName", strings.ToLower(g.DisplayName)}}
	if g.ExternalID != "" {
		out = append(out, unique{"externalId", g.ExternalID})
	}
	if g.GIDNumber != 0 {
		out = append(out, unique{"gidNumber", strconv.FormatInt(g.GIDNumber, 10)})
	}
	return out
}

func serviceAccountUniques(sa *ServiceAccount) []unique {
	return []unique{{"name", strings.ToLower(sa.Name)}}
}

func tokenUniques(t *Token) []unique {
	return []unique{{"digest", t.Digest}}
}

// diffUniques returns the constraints in b but not in a.
func diffUniques(a, b []unique) []unique {
	var out []unique
	for _, x := range b {
		found := false
		for _, y := range a {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
