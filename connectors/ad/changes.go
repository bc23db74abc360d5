package ad

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// Cursors name the feed they belong to, so that a connector that had to
// fall back from DirSync to uSNChanged (or a DC that gained DirSync) reads
// an old cursor correctly.
const (
	dirSyncPrefix = "dirsync:" // + base64 of DirSync's cookie
	usnPrefix     = "usn:"     // + the highest committed USN already seen
)

// maxChanges is about how many changed accounts one Changes call returns;
// DirSync's cookie marks where the next call carries on.
const maxChanges = 5000

// changeAttrs are read from the feed itself; the accounts reported are
// read again in full, because DirSync sends only what changed.
var changeAttrs = []string{"objectGUID", "isDeleted", "lastKnownParent", "userAccountControl", "userPrincipalName",
	"sAMAccountName", "mail", "givenName", "sn", "displayName", "pwdLastSet", "cn"}

// Changes returns the accounts in userOU and importOUs changed in AD since
// cur, deleted ones as Account{ID, Deleted}, and the next cursor.
//
// The feed is DirSync, which Windows and Samba DCs offer to accounts with
// "Replicating Directory Changes" on the domain: its cookie holds the DC's
// position, and it reports deletions. With an empty cursor, a DirSync round
// over the domain yields the first cookie and nothing else. When the DC
// refuses DirSync, the feed follows uSNChanged instead, and finds deletions
// among the tombstones; a uSNChanged cursor is only meaningful on the DC
// that made it.
func (c *Conn) Changes(ctx context.Context, cur string) ([]connectors.Account, string, error) {
	switch {
	case cur == "":
		return c.startFeed(ctx)
	case strings.HasPrefix(cur, dirSyncPrefix):
		cookie, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(cur, dirSyncPrefix))
		if err != nil || len(cookie) == 0 {
			c.log.Warn("ad: the stored DirSync cursor cannot be read, starting the feed again", "err", err)
			return c.startFeed(ctx)
		}
		if c.noDirSync.Load() {
			c.log.Warn("ad: the DC refuses DirSync now, following uSNChanged from here; changes made meanwhile are left to the next full pass")
			return c.startFeed(ctx)
		}
		return c.followDirSync(ctx, cookie)
	case strings.HasPrefix(cur, usnPrefix):
		usn, err := strconv.ParseInt(strings.TrimPrefix(cur, usnPrefix), 10, 64)
		if err != nil || usn < 0 {
			c.log.Warn("ad: the stored uSNChanged cursor cannot be read, starting the feed again", "cursor", cur)
			return c.startFeed(ctx)
		}
		return c.followUSN(ctx, usn)
	}
	// A cursor that cannot be read would stop the feed for good: start
	// over instead; the periodic full pass covers the gap.
	c.log.Warn("ad: the stored change cursor is not an AD cursor, starting the feed again")
	return c.startFeed(ctx)
}

// startFeed returns the cursor of "now": DirSync's cookie after a full
// round, or the DC's highest committed USN.
func (c *Conn) startFeed(ctx context.Context) ([]connectors.Account, string, error) {
	if !c.noDirSync.Load() {
		var cookie []byte
		err := c.withConn(ctx, func(l *ldap.Conn) error {
			var more = true
			for more {
				var err error
				cookie, more, err = c.dirSyncRound(ctx, l, cookie, func(*ldap.Entry) {})
				if err != nil {
					return err
				}
			}
			return nil
		})
		switch {
		case err == nil:
			return nil, dirSyncPrefix + base64.StdEncoding.EncodeToString(cookie), nil
		case !dirSyncRefused(err):
			return nil, "", classify("start the DirSync change feed", err)
		}
		c.log.Warn("ad: the DC refuses DirSync (the bind account needs \"Replicating Directory Changes\" on the domain); following uSNChanged instead", "err", err)
		c.noDirSync.Store(true)
	}
	var usn int64
	err := c.withConn(ctx, func(l *ldap.Conn) error {
		var err error
		usn, err = highestUSN(l)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return nil, usnPrefix + strconv.FormatInt(usn, 10), nil
}

// dirSyncRefused reports whether the DC will not do DirSync for us at all,
// as opposed to failing this once.
func dirSyncRefused(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultUnavailableCriticalExtension, ldap.LDAPResultInsufficientAccessRights)
}

// dirSyncRound runs one DirSync search from cookie over the domain, calling
// fn for each entry as it arrives, and returns the next cookie and whether
// the DC has more to send.
func (c *Conn) dirSyncRound(ctx context.Context, l *ldap.Conn, cookie []byte, fn func(*ldap.Entry)) ([]byte, bool, error) {
	req := ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		userFilter, changeAttrs, nil)
	// The entries stream through: a first round reads every user of the
	// domain, which must not be held in memory at once.
	r := l.DirSyncAsync(ctx, req, 64, 0, 0, cookie)
	var next []byte
	more := false
	for r.Next() {
		if e := r.Entry(); e != nil {
			fn(e)
		}
		if ctrl, ok := ldap.FindControl(r.Controls(), ldap.ControlTypeDirSync).(*ldap.ControlDirSync); ok {
			next, more = ctrl.Cookie, ctrl.Flags != 0
		}
	}
	if err := r.Err(); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if len(next) == 0 {
		return nil, false, connectors.Transient("the DC answered DirSync without a cookie", nil)
	}
	return next, more, nil
}

// followDirSync reads the changes since cookie.
func (c *Conn) followDirSync(ctx context.Context, cookie []byte) ([]connectors.Account, string, error) {
	var out []connectors.Account
	err := c.withConn(ctx, func(l *ldap.Conn) error {
		var changed [][]byte // objectGUIDs of live accounts to read again
		seen := map[string]bool{}
		for more := true; more && len(changed)+len(out) < maxChanges; {
			next, m, err := c.dirSyncRound(ctx, l, cookie, func(e *ldap.Entry) {
				guid := e.GetRawAttributeValue("objectGUID")
				id, err := guidString(guid)
				if err != nil || seen[id] {
					return
				}
				if strings.EqualFold(e.GetAttributeValue("isDeleted"), "TRUE") {
					// A tombstone lives in Deleted Objects; where it was
					// is lastKnownParent, when the DC sends it.
					if p := e.GetAttributeValue("lastKnownParent"); p == "" || c.inScope(p) {
						seen[id] = true
						out = append(out, connectors.Account{ID: id, Deleted: true})
					}
					return
				}
				if c.inScope(e.DN) {
					seen[id] = true
					changed = append(changed, guid)
				}
			})
			if err != nil {
				return err
			}
			cookie, more = next, m
		}
		accts, err := c.readByGUID(l, changed)
		if err != nil {
			return err
		}
		out = append(out, accts...)
		return nil
	})
	if err != nil {
		if dirSyncRefused(err) {
			c.noDirSync.Store(true)
			c.log.Warn("ad: the DC refuses DirSync now, following uSNChanged from here", "err", err)
			return c.startFeed(ctx)
		}
		if ldap.IsErrorAnyOf(err, ldap.LDAPResultProtocolError, ldap.LDAPResultUnwillingToPerform) {
			// The DC does not take the cookie (another DC, a restored
			// database): start over; the full pass covers the gap.
			c.log.Warn("ad: the DC refused the DirSync cookie, starting the feed again", "err", err)
			return c.startFeed(ctx)
		}
		return nil, "", classify("read the DirSync change feed", err)
	}
	return out, dirSyncPrefix + base64.StdEncoding.EncodeToString(cookie), nil
}

// readByGUID reads accounts in full; those gone meanwhile are reported
// deleted.
func (c *Conn) readByGUID(l *ldap.Conn, guids [][]byte) ([]connectors.Account, error) {
	var out []connectors.Account
	const batch = 100
	for len(guids) > 0 {
		n := min(batch, len(guids))
		var f strings.Builder
		f.WriteString("(&" + userFilter + "(|")
		for _, g := range guids[:n] {
			f.WriteString(guidFilter(g))
		}
		f.WriteString("))")
		res, err := l.Search(ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			f.String(), userAttrs, nil))
		if err != nil {
			return nil, err
		}
		found := map[string]bool{}
		for _, e := range res.Entries {
			a, err := accountOf(e)
			if err != nil {
				continue
			}
			found[a.ID] = true
			out = append(out, a)
		}
		for _, g := range guids[:n] {
			if id, err := guidString(g); err == nil && !found[id] {
				out = append(out, connectors.Account{ID: id, Deleted: true})
			}
		}
		guids = guids[n:]
	}
	return out, nil
}

// plainDN drops the extended form DirSync gives DN values in
// ("<GUID=...>;<SID=...>;CN=...").
func plainDN(s string) string {
	for strings.HasPrefix(s, "<") {
		i := strings.Index(s, ">;")
		if i < 0 {
			return s
		}
		s = s[i+2:]
	}
	return s
}

// inScope reports whether dn is in userOU or one of importOUs.
func (c *Conn) inScope(dn string) bool {
	d, err := ldap.ParseDN(plainDN(dn))
	if err != nil {
		return false
	}
	for _, s := range append([]string{c.cfg.userOU}, c.cfg.importOUs...) {
		if o, err := ldap.ParseDN(s); err == nil && (o.AncestorOfFold(d) || o.EqualFold(d)) {
			return true
		}
	}
	return false
}

// highestUSN reads the DC's highest committed update sequence number.
func highestUSN(l *ldap.Conn) (int64, error) {
	res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"highestCommittedUSN"}, nil))
	if err != nil {
		return 0, classify("read the DC's highestCommittedUSN", err)
	}
	if len(res.Entries) != 1 {
		return 0, connectors.Transient("the DC's rootDSE has no highestCommittedUSN", nil)
	}
	v, err := strconv.ParseInt(res.Entries[0].GetAttributeValue("highestCommittedUSN"), 10, 64)
	if err != nil {
		return 0, connectors.Transient("the DC's highestCommittedUSN is not a number", err)
	}
	return v, nil
}

// followUSN reads the accounts whose uSNChanged is above usn, and the
// tombstones of those deleted since.
func (c *Conn) followUSN(ctx context.Context, usn int64) ([]connectors.Account, string, error) {
	var out []connectors.Account
	var high int64
	err := c.withConn(ctx, func(l *ldap.Conn) error {
		var err error
		// Read first: whatever changes while we search is seen now or by
		// the next call, never by neither.
		if high, err = highestUSN(l); err != nil {
			return err
		}
		since := fmt.Sprintf("(uSNChanged>=%d)", usn+1)
		seen := map[string]bool{}
		scopes := append([]string{c.cfg.userOU}, c.cfg.importOUs...)
		for _, base := range scopes {
			err := c.pagedSearch(l, base, "(&"+userFilter+since+")", userAttrs, func(e *ldap.Entry) error {
				a, err := accountOf(e)
				if err == nil && !seen[a.ID] {
					seen[a.ID] = true
					out = append(out, a)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		res, err := l.Search(ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(isDeleted=TRUE)"+userFilter+since+")", []string{"objectGUID", "lastKnownParent"},
			[]ldap.Control{ldap.NewControlMicrosoftShowDeleted()}))
		if err != nil {
			return classify("read the deleted accounts", err)
		}
		for _, e := range res.Entries {
			id, err := guidString(e.GetRawAttributeValue("objectGUID"))
			if err != nil || seen[id] {
				continue
			}
			if p := e.GetAttributeValue("lastKnownParent"); p == "" || c.inScope(p) {
				seen[id] = true
				out = append(out, connectors.Account{ID: id, Deleted: true})
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, usnPrefix + strconv.FormatInt(high, 10), nil
}
