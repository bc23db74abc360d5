package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
)

// Kinds of entries Resolve returns.
const (
	KindContainer = "container"
	KindUser      = "user"
	KindGroup     = "group"
	KindService   = "service"
)

// Container ids Resolve returns with KindContainer.
const (
	ContainerBase     = "base"
	ContainerPeople   = "people"
	ContainerGroups   = "groups"
	ContainerServices = "services"
)

// Errors Resolve, Search and Compare wrap; the server maps them to result
// codes 32 and 34.
var (
	ErrNoSuchObject = errors.New("no such object")
	ErrInvalidDN    = errors.New("invalid DN syntax")
)

// NoSuchObjectError names the DN that does not exist (or is not readable)
// and MatchedDN, the closest existing ancestor, for the LDAPResult.
type NoSuchObjectError struct {
	DN        string
	MatchedDN string
}

func (e *NoSuchObjectError) Error() string { return fmt.Sprintf("no entry %q", e.DN) }

// Is makes errors.Is(err, ErrNoSuchObject) true.
func (e *NoSuchObjectError) Is(target error) bool { return target == ErrNoSuchObject }

// InvalidDNError says why a DN could not be parsed.
type InvalidDNError struct {
	DN     string
	Reason string
}

func (e *InvalidDNError) Error() string {
	return fmt.Sprintf("%q is not a valid DN: %s", e.DN, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidDN) true.
func (e *InvalidDNError) Is(target error) bool { return target == ErrInvalidDN }

// rdn is one RDN in matching form: for a single-valued RDN, typ is the
// canonical lowercased type name, val the case-folded value and raw the
// value as given (for lookups). norm is the whole RDN normalised, with the
// values of a multi-valued RDN sorted; such an RDN has typ "+", which
// names nothing in this tree.
type rdn struct{ typ, val, raw, norm string }

// parseDN parses dn into RDNs in matching form.
func parseDN(dn string) ([]rdn, error) {
	if !utf8.ValidString(dn) {
		return nil, &InvalidDNError{DN: dn, Reason: "not UTF-8"}
	}
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, &InvalidDNError{DN: dn, Reason: err.Error()}
	}
	out := make([]rdn, 0, len(p.RDNs))
	for _, r := range p.RDNs {
		if len(r.Attributes) == 0 {
			return nil, &InvalidDNError{DN: dn, Reason: "empty RDN"}
		}
		avas := make([]string, len(r.Attributes))
		var x rdn
		for i, a := range r.Attributes {
			t := strings.ToLower(strings.TrimSpace(a.Type))
			if t == "" {
				return nil, &InvalidDNError{DN: dn, Reason: "empty attribute type"}
			}
			if d := attrByName[t]; d != nil {
				t = strings.ToLower(d.name)
			}
			x.typ, x.val, x.raw = t, foldSpace(a.Value), strings.TrimSpace(a.Value)
			avas[i] = escapeDNValue(t) + "=" + escapeDNValue(x.val)
		}
		if len(avas) > 1 {
			slices.Sort(avas)
			x.typ = "+"
		}
		x.norm = strings.Join(avas, "+")
		out = append(out, x)
	}
	return out, nil
}

// dnCache remembers parsed search bases: applications send the same few
// bases on every search, and parsing a DN costs more than the lookup the
// search then does. Parsed RDNs are never modified, so they are shared.
type dnCache struct {
	mu sync.Mutex
	m  map[string][]rdn
}

const dnCacheSize = 1024

func (c *dnCache) parse(dn string) ([]rdn, error) {
	c.mu.Lock()
	rs, ok := c.m[dn]
	c.mu.Unlock()
	if ok {
		return rs, nil
	}
	rs, err := parseDN(dn)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= dnCacheSize {
		c.m = map[string][]rdn{} // bounded: start over rather than grow
	}
	c.m[dn] = rs
	c.mu.Unlock()
	return rs, nil
}

// normalizeDN returns dn in a form where equal DNs (distinguishedNameMatch,
// with case-insensitive values) are equal strings.
func normalizeDN(dn string) (string, error) {
	rs, err := parseDN(dn)
	if err != nil {
		return "", err
	}
	norms := make([]string, len(rs))
	for i, r := range rs {
		norms[i] = r.norm
	}
	return strings.Join(norms, ","), nil
}

// escapeDNValue escapes an attribute value for a DN string (RFC 4514
// section 2.4). UTF-8 is left as it is.
func escapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c == 0x7f:
			fmt.Fprintf(&b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Resolve maps a DN to the entry it names: kind is one of the Kind
// constants and id the record's id, or for containers one of the Container
// constants. Attribute types and values compare case-insensitively and
// insignificant spaces are ignored. It fails with *InvalidDNError for a DN
// that does not parse and *NoSuchObjectError, carrying the matched DN, for
// one that names nothing. Resolve does not check access.
func (d *Directory) Resolve(ctx context.Context, dn string) (kind, id string, err error) {
	rs, err := parseDN(dn)
	if err != nil {
		return "", "", err
	}
	return d.resolve(ctx, dn, rs)
}

func (d *Directory) resolve(ctx context.Context, dn string, rs []rdn) (kind, id string, err error) {
	nb := len(d.base)
	if len(rs) < nb || !sameRDNs(rs[len(rs)-nb:], d.base) {
		return "", "", &NoSuchObjectError{DN: dn}
	}
	rel := rs[:len(rs)-nb]
	if len(rel) == 0 {
		return KindContainer, ContainerBase, nil
	}
	ou := rel[len(rel)-1]
	var container string
	if ou.typ == "ou" {
		switch ou.val {
		case "people":
			container = ContainerPeople
		case "groups":
			container = ContainerGroups
		case "services":
			container = ContainerServices
		}
	}
	if container == "" {
		return "", "", &NoSuchObjectError{DN: dn, MatchedDN: d.baseDN}
	}
	if len(rel) == 1 {
		return KindContainer, container, nil
	}
	parent := d.containerDN(container)
	if len(rel) > 2 {
		return "", "", &NoSuchObjectError{DN: dn, MatchedDN: parent}
	}
	leaf := rel[0]
	missing := &NoSuchObjectError{DN: dn, MatchedDN: parent}
	switch container {
	case ContainerPeople:
		if leaf.typ != "uid" {
			return "", "", missing
		}
		u, err := d.auth.LookupUser(ctx, authority.ByUserName, leaf.raw)
		if err != nil {
			return "", "", notFound(err, missing)
		}
		return KindUser, u.ID, nil
	case ContainerGroups:
		if leaf.typ != "cn" {
			return "", "", missing
		}
		g, err := d.auth.LookupGroup(ctx, authority.ByDisplayName, leaf.raw)
		if err != nil {
			return "", "", notFound(err, missing)
		}
		return KindGroup, g.ID, nil
	default:
		if leaf.typ != "cn" {
			return "", "", missing
		}
		sa, err := d.auth.LookupServiceAccount(ctx, leaf.raw)
		if err != nil {
			return "", "", notFound(err, missing)
		}
		return KindService, sa.ID, nil
	}
}

// notFound turns the store's not-found into missing and passes other
// failures (store unavailable) through.
func notFound(err error, missing *NoSuchObjectError) error {
	if errors.Is(err, authority.ErrNotFound) {
		return missing
	}
	return err
}

func sameRDNs(a, b []rdn) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].norm != b[i].norm {
			return false
		}
	}
	return true
}
