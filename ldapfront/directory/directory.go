package directory

import (
	"errors"
	"slices"
	"strings"

	"github.com/headwater/headwater/authority"
)

// Directory renders Headwater's records as an LDAP tree under one base DN.
// It holds no copy of the records: every operation reads the authority.
type Directory struct {
	auth   *authority.Authority
	base   []rdn
	baseDN string // canonical rendering: lowercase types, values as configured
	bases  dnCache
}

// New returns the directory for base DN baseDN (e.g. "dc=example,dc=com").
// The base is normalised (attribute types lowercased, spaces around
// separators dropped); it must parse and be non-empty.
func New(a *authority.Authority, baseDN string) (*Directory, error) {
	if a == nil {
		return nil, errors.New("directory: no authority given")
	}
	rs, err := parseDN(baseDN)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, &InvalidDNError{DN: baseDN, Reason: "the base DN is empty; set it, e.g. to dc=example,dc=com"}
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		if strings.Contains(r.typ, "+") {
			return nil, &InvalidDNError{DN: baseDN, Reason: "multi-valued RDNs are not supported in the base DN"}
		}
		parts[i] = r.typ + "=" + escapeDNValue(r.raw)
	}
	return &Directory{auth: a, base: rs, baseDN: strings.Join(parts, ",")}, nil
}

// BaseDN returns the normalised base DN.
func (d *Directory) BaseDN() string { return d.baseDN }

// UserDN, GroupDN and ServiceDN render the DN of a record by its name.
func (d *Directory) UserDN(userName string) string {
	return "uid=" + escapeDNValue(userName) + "," + d.containerDN(ContainerPeople)
}

// GroupDN renders a group's DN from its displayName.
func (d *Directory) GroupDN(displayName string) string {
	return "cn=" + escapeDNValue(displayName) + "," + d.containerDN(ContainerGroups)
}

// ServiceDN renders a service account's DN from its name.
func (d *Directory) ServiceDN(name string) string {
	return "cn=" + escapeDNValue(name) + "," + d.containerDN(ContainerServices)
}

func (d *Directory) containerDN(c string) string {
	if c == ContainerBase {
		return d.baseDN
	}
	return "ou=" + c + "," + d.baseDN
}

// Requester is who asks: the identity the connection is bound as.
type Requester struct {
	Anonymous bool
	Kind      string // KindUser or KindService
	ID        string // the user's or service account's id
	Roles     []string
}

// readsAll reports whether r may read the whole tree.
func (r Requester) readsAll() bool {
	return !r.Anonymous && (slices.Contains(r.Roles, authority.RoleAdmin) || slices.Contains(r.Roles, authority.RoleLDAPReader))
}

// canRead applies CONTRACT.md's rule to one entry.
func (r Requester) canRead(kind, id string) bool {
	switch {
	case r.Anonymous || r.ID == "":
		return false
	case r.readsAll():
		return true
	case kind == KindContainer || kind == KindGroup:
		return true
	}
	return kind == r.Kind && id == r.ID
}
