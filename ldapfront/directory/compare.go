package directory

import (
	"context"
	"errors"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/wire"
)

// Compare answers an LDAP Compare (RFC 4511 section 4.10) of attr=value on
// the entry dn, with the attribute's equality rule: compareTrue,
// compareFalse, noSuchAttribute when the entry has no such attribute,
// undefinedAttributeType when the directory does not know it,
// invalidAttributeSyntax when value is not valid for it. An entry who may
// not read is noSuchObject, like a missing one. For invalidDNSyntax and
// noSuchObject the error is the *InvalidDNError or *NoSuchObjectError
// (with MatchedDN); for unavailable and other it is the cause; otherwise
// it is nil.
func (d *Directory) Compare(ctx context.Context, who Requester, dn, attr, value string) (wire.ResultCode, error) {
	rs, err := parseDN(dn)
	if err != nil {
		return wire.ResultInvalidDNSyntax, err
	}
	kind, id, err := d.resolve(ctx, dn, rs)
	if err == nil && !who.canRead(kind, id) {
		_, parent := d.parentOf(kind)
		err = &NoSuchObjectError{DN: dn, MatchedDN: parent}
	}
	var e *entry
	if err == nil {
		e, err = d.entry(ctx, kind, id)
	}
	switch {
	case errors.Is(err, authority.ErrNotFound):
		_, parent := d.parentOf(kind)
		return wire.ResultNoSuchObject, &NoSuchObjectError{DN: dn, MatchedDN: parent}
	case errors.Is(err, ErrNoSuchObject):
		return wire.ResultNoSuchObject, err
	case errors.Is(err, authority.ErrUnavailable), errors.Is(err, authority.ErrNotReady):
		return wire.ResultUnavailable, err
	case err != nil:
		return wire.ResultOther, err
	}
	def := lookupAttr(attr)
	if def == nil {
		return wire.ResultUndefinedAttributeType, nil
	}
	if len(e.attrs[def.idx]) == 0 {
		return wire.ResultNoSuchAttribute, nil
	}
	av := normalize(def.syntax, value)
	if !av.ok {
		return wire.ResultInvalidAttributeSyntax, nil
	}
	for _, v := range e.matching(def) {
		if v.ok && equal(def.syntax, v, av) {
			return wire.ResultCompareTrue, nil
		}
	}
	return wire.ResultCompareFalse, nil
}

// entry renders one entry with every attribute.
func (d *Directory) entry(ctx context.Context, kind, id string) (*entry, error) {
	l := d.newLoader(ctx, true)
	switch kind {
	case KindContainer:
		return l.container(id), nil
	case KindUser:
		u, err := d.auth.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		return l.user(u)
	case KindGroup:
		g, err := d.auth.GetGroup(ctx, id)
		if err != nil {
			return nil, err
		}
		return l.group(g)
	}
	sa, err := d.auth.GetServiceAccount(ctx, id)
	if err != nil {
		return nil, err
	}
	return l.service(sa), nil
}

// Entry renders the entry dn names with every user and operational
// attribute, if who may read it; the server uses it for lookups such as
// WhoAmI and for tests. Errors are as for Resolve.
func (d *Directory) Entry(ctx context.Context, who Requester, dn string) (wire.SearchResultEntry, error) {
	kind, id, err := d.Resolve(ctx, dn)
	if err != nil {
		return wire.SearchResultEntry{}, err
	}
	if !who.canRead(kind, id) {
		_, parent := d.parentOf(kind)
		return wire.SearchResultEntry{}, &NoSuchObjectError{DN: dn, MatchedDN: parent}
	}
	e, err := d.entry(ctx, kind, id)
	if err != nil {
		return wire.SearchResultEntry{}, err
	}
	return e.render(selection{allUser: true, allOper: true}, false), nil
}
