package ad

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// List calls fn for every account in importOUs, one page of a paged search
// at a time. Built-in accounts are left out: krbtgt, Guest and the like
// always, and the built-in Administrator unless someone moved it into an
// OU (where it is an account people use). It stops at fn's first error
// and returns it.
func (c *Conn) List(ctx context.Context, fn func(connectors.Account) error) error {
	for _, ou := range c.cfg.importOUs {
		err := c.withConn(ctx, func(l *ldap.Conn) error {
			return c.pagedSearch(l, ou, userFilter, userAttrs, func(e *ldap.Entry) error {
				if builtIn(e) {
					return nil
				}
				a, err := accountOf(e)
				if err != nil {
					c.log.Warn("ad: skipping an account that cannot be read", "dn", e.DN, "err", err)
					return nil
				}
				return fn(a)
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pagedSearch runs a paged subtree search under base and calls fn for each
// entry as each page arrives. go-ldap's SearchWithPaging would read every
// page before returning: a whole domain in memory, which Headwater's
// scale rule forbids. When fn fails, the rest of the search is abandoned.
func (c *Conn) pagedSearch(l *ldap.Conn, base, filter string, attrs []string, fn func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(c.pageSize)
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{paging})
	for {
		res, err := l.Search(req)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return connectors.Rejected(fmt.Sprintf("%s does not exist in AD (or the bind account cannot see it)", base), err)
		}
		if err != nil {
			return classify("list the accounts in "+base, err)
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				// Tell the DC to drop the rest of the result.
				paging.PagingSize = 0
				if _, aerr := l.Search(req); aerr != nil {
					c.log.Debug("ad: abandoning a paged search", "err", aerr)
				}
				return err
			}
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(ctrl.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

// builtIn reports whether e is one of the domain's own accounts, which are
// never Headwater's to manage.
func builtIn(e *ldap.Entry) bool {
	if !strings.EqualFold(e.GetAttributeValue("isCriticalSystemObject"), "TRUE") {
		return false
	}
	rid, ok := ridOf(e.GetRawAttributeValue("objectSid"))
	if ok && rid == 500 {
		// The built-in Administrator lives in CN=Users; moved into an OU,
		// it is somebody's account.
		if d, err := ldap.ParseDN(e.DN); err == nil && len(d.RDNs) > 1 && len(d.RDNs[1].Attributes) > 0 {
			return !strings.EqualFold(d.RDNs[1].Attributes[0].Type, "OU")
		}
	}
	return true
}
