package ad

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// userFilter matches user accounts. In AD a computer is a user too (its
// class derives from user), hence the exclusion; objectCategory=person
// would do the same but is stripped from deleted objects, which the change
// feed must still match.
const userFilter = "(&(objectClass=user)(!(objectClass=computer)))"

// userAttrs are the attributes an Account is read from, plus those List
// needs to leave out built-in accounts.
var userAttrs = []string{
	"objectGUID", "cn", "sAMAccountName", "userPrincipalName", "mail", "givenName", "sn", "displayName",
	"userAccountControl", "pwdLastSet", "isCriticalSystemObject", "objectSid",
}

// userAccountControl flags.
const (
	uacDisabled      = 0x2
	uacNormalAccount = 0x200
)

// plan is a Desired account in AD's terms.
type plan struct {
	upn, sam, cn string
}

// plan checks d against AD's rules; its error is Rejected with what to
// change.
func (c *Conn) plan(d connectors.Desired) (plan, error) {
	login := strings.TrimSpace(d.Login)
	if login == "" {
		return plan{}, connectors.Rejected("the user has no login to give the AD account", nil)
	}
	upn := upnOf(login, c.cfg.upnSuffix)
	if err := checkUPN(upn); err != nil {
		return plan{}, connectors.Rejected(err.Error(), err)
	}
	sam, _, ok := samAccountName(login)
	if !ok {
		return plan{}, connectors.Rejected(fmt.Sprintf("login %q leaves no usable AD account name (sAMAccountName): AD refuses the characters %s in it, and a name of only dots or spaces; give the user a login with letters or digits before the @", login, samIllegal), nil)
	}
	if err := checkLengths(d.GivenName, d.FamilyName, d.DisplayName, d.Email); err != nil {
		return plan{}, err
	}
	return plan{upn: upn, sam: sam, cn: commonName(d.DisplayName, d.GivenName, d.FamilyName, sam)}, nil
}

func checkLengths(given, family, display, mail string) error {
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"given name", given, maxGivenName},
		{"family name", family, maxSN},
		{"display name", display, maxDisplayName},
		{"email", mail, maxMail},
	} {
		if n := lenUTF16(f.v); n > f.max {
			return connectors.Rejected(fmt.Sprintf("the %s %q has %d characters; AD takes at most %d", f.name, f.v, n, f.max), nil)
		}
	}
	return nil
}

// Check says why d cannot be an AD account: a login with no usable
// account name or user principal name, or a name longer than the schema
// allows. It does not contact the DC.
func (c *Conn) Check(_ context.Context, d connectors.Desired) error {
	_, err := c.plan(d)
	return err
}

// accountOf reads an Account from a user entry.
func accountOf(e *ldap.Entry) (connectors.Account, error) {
	id, err := guidString(e.GetRawAttributeValue("objectGUID"))
	if err != nil {
		return connectors.Account{}, fmt.Errorf("ad: entry %s: %w", e.DN, err)
	}
	login := e.GetAttributeValue("userPrincipalName")
	if login == "" {
		// Accounts made before Windows 2000 tools, or by scripts, may
		// have no UPN; people then sign in with the account name.
		login = e.GetAttributeValue("sAMAccountName")
	}
	uac, _ := strconv.ParseInt(e.GetAttributeValue("userAccountControl"), 10, 64)
	pls, _ := strconv.ParseInt(e.GetAttributeValue("pwdLastSet"), 10, 64)
	return connectors.Account{
		ID:              id,
		Login:           login,
		Email:           e.GetAttributeValue("mail"),
		GivenName:       e.GetAttributeValue("givenName"),
		FamilyName:      e.GetAttributeValue("sn"),
		DisplayName:     e.GetAttributeValue("displayName"),
		Enabled:         uac&uacDisabled == 0,
		PasswordChanged: fileTime(pls),
	}, nil
}

// entryByID finds a user by its objectGUID anywhere in the domain.
func (c *Conn) entryByID(l *ldap.Conn, id string) (*ldap.Entry, error) {
	guid, ok := parseGUID(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not an AD objectGUID", connectors.ErrNotFound, id)
	}
	res, err := l.Search(ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&"+userFilter+guidFilter(guid)+")", userAttrs, nil))
	if err != nil {
		return nil, classify("look up account "+id, err)
	}
	if len(res.Entries) == 0 {
		return nil, fmt.Errorf("%w: no user with objectGUID %s in %s", connectors.ErrNotFound, id, c.cfg.baseDN)
	}
	return res.Entries[0], nil
}

// Get reads an account by objectGUID.
func (c *Conn) Get(ctx context.Context, id string) (*connectors.Account, error) {
	var a connectors.Account
	err := c.withConn(ctx, func(l *ldap.Conn) error {
		e, err := c.entryByID(l, id)
		if err != nil {
			return err
		}
		a, err = accountOf(e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// Find looks an account up by login (its userPrincipalName, or for a login
// without a domain its sAMAccountName too), then by email. The whole
// domain is searched, not only importOUs: a UPN is unique in the forest,
// so an account elsewhere with the login would make a new one fail anyway.
// AD does not keep mail unique; when several accounts have the email, the
// one whose UPN is that address wins, and with none such Find refuses to
// guess.
func (c *Conn) Find(ctx context.Context, login, email string) (*connectors.Account, error) {
	login, email = strings.TrimSpace(login), strings.TrimSpace(email)
	var found *connectors.Account
	err := c.withConn(ctx, func(l *ldap.Conn) error {
		search := func(what, filter string) ([]*ldap.Entry, error) {
			res, err := l.Search(ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(&"+userFilter+filter+")", userAttrs, nil))
			if err != nil {
				return nil, classify("find an account by "+what, err)
			}
			return res.Entries, nil
		}
		pick := func(what, value string, es []*ldap.Entry) error {
			e := es[0]
			if len(es) > 1 {
				e = nil
				for _, x := range es {
					if strings.EqualFold(x.GetAttributeValue("userPrincipalName"), value) {
						e = x
						break
					}
				}
				if e == nil {
					dns := make([]string, len(es))
					for i, x := range es {
						dns[i] = x.DN
					}
					return connectors.Rejected(fmt.Sprintf("%d AD accounts have the %s %s (%s): match the user to one of them by hand", len(es), what, value, strings.Join(dns, "; ")), nil)
				}
			}
			a, err := accountOf(e)
			if err != nil {
				return err
			}
			found = &a
			return nil
		}
		if login != "" {
			upn := upnOf(login, c.cfg.upnSuffix)
			f := "(userPrincipalName=" + ldap.EscapeFilter(upn) + ")"
			if !strings.Contains(login, "@") {
				f = "(|" + f + "(sAMAccountName=" + ldap.EscapeFilter(login) + "))"
			}
			es, err := search("login", f)
			if err != nil {
				return err
			}
			if len(es) > 0 {
				return pick("login", upn, es)
			}
		}
		if email != "" {
			es, err := search("email", "(mail="+ldap.EscapeFilter(email)+")")
			if err != nil {
				return err
			}
			if len(es) > 0 {
				return pick("email", email, es)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no AD user has login %q or email %q", connectors.ErrNotFound, login, email)
	}
	return found, nil
}

// maxCNTries is how many cn candidates ("Ada Lovelace (2)", ...) are tried
// for a display name already used in the OU.
const maxCNTries = 50

// Create adds the account disabled, sets its password, then enables it if
// d asks: an account is never enabled without the password Headwater
// knows. When a step fails, the account is removed again, so that a retry
// starts from nothing rather than from a half-made account.
func (c *Conn) Create(ctx context.Context, d connectors.Desired, password string) (*connectors.Account, error) {
	p, err := c.plan(d)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, connectors.Rejected("no initial password for the new AD account", nil)
	}
	var acct connectors.Account
	var created string
	err = c.withConn(ctx, func(l *ldap.Conn) error {
		dn, err := c.add(l, p, d)
		if err != nil {
			return err
		}
		created = dn
		if err := l.Modify(passwordChange(dn, password)); err != nil {
			return classify("set the password of the new account "+p.upn, err)
		}
		if d.Enabled {
			m := ldap.NewModifyRequest(dn, nil)
			m.Replace("userAccountControl", []string{strconv.Itoa(uacNormalAccount)})
			if err := l.Modify(m); err != nil {
				return classify("enable the new account "+p.upn, err)
			}
		}
		res, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", userAttrs, nil))
		if err != nil {
			return classify("read the new account "+p.upn, err)
		}
		if len(res.Entries) != 1 {
			return connectors.Transient("the new account "+dn+" cannot be read back", nil)
		}
		acct, err = accountOf(res.Entries[0])
		return err
	})
	if err != nil {
		if created != "" {
			c.undoCreate(ctx, created)
		}
		return nil, err
	}
	c.log.Info("ad: account created", "dn", created, "id", acct.ID, "enabled", acct.Enabled)
	return &acct, nil
}

// add creates the disabled account under a cn not yet used in userOU and
// returns its DN.
func (c *Conn) add(l *ldap.Conn, p plan, d connectors.Desired) (string, error) {
	for n := 1; n <= maxCNTries; n++ {
		cn := uniqueCN(p.cn, n)
		dn := "CN=" + ldap.EscapeDN(cn) + "," + c.cfg.userOU
		if exists, err := dnExists(l, dn); err != nil {
			return "", classify("look for "+dn, err)
		} else if exists {
			continue
		}
		req := ldap.NewAddRequest(dn, nil)
		req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
		req.Attribute("cn", []string{cn})
		req.Attribute("sAMAccountName", []string{p.sam})
		req.Attribute("userPrincipalName", []string{p.upn})
		for _, av := range [][2]string{{"givenName", d.GivenName}, {"sn", d.FamilyName}, {"displayName", d.DisplayName}, {"mail", d.Email}} {
			// AD refuses empty values: an attribute without one is left out.
			if v := strings.TrimSpace(av[1]); v != "" {
				req.Attribute(av[0], []string{v})
			}
		}
		req.Attribute("userAccountControl", []string{strconv.Itoa(uacNormalAccount | uacDisabled)})
		err := l.Add(req)
		if err == nil {
			return dn, nil
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) && !isNameInUse(err) {
			// Another create took this cn since we looked: try the next.
			continue
		}
		return "", classify(fmt.Sprintf("create account %s (sAMAccountName %s)", p.upn, p.sam), err)
	}
	return "", connectors.Rejected(fmt.Sprintf("%d accounts named %q already exist in %s", maxCNTries, p.cn, c.cfg.userOU), nil)
}

// isNameInUse tells a duplicate sAMAccountName or UPN from a duplicate DN,
// which AD reports with the same result code.
func isNameInUse(err error) bool {
	switch winCode(diagnostic(err)) {
	case winNameExists, winUPNNotUnique, winConstraint:
		return true
	}
	return false
}

func dnExists(l *ldap.Conn, dn string) (bool, error) {
	_, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false, nil
	}
	return err == nil, err
}

// undoCreate removes an account Create could not finish. The caller's
// context may be what ended, so it runs on a context of its own.
func (c *Conn) undoCreate(ctx context.Context, dn string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dialTimeout+opTimeout)
	defer cancel()
	err := c.withConn(ctx, func(l *ldap.Conn) error { return l.Del(ldap.NewDelRequest(dn, nil)) })
	if err != nil {
		c.log.Warn("ad: could not remove the account a failed create left", "dn", dn, "err", err)
	}
}

func passwordChange(dn, password string) *ldap.ModifyRequest {
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("unicodePwd", []string{encodePassword(password)})
	return m
}

// Update applies p. A new login changes the userPrincipalName and the
// sAMAccountName derived from it; a new display name renames the object
// (its cn) in the OU it is in now, which may not be userOU if an
// administrator moved it.
func (c *Conn) Update(ctx context.Context, id string, p connectors.Patch) error {
	if p.Empty() {
		return nil
	}
	var newUPN, newSAM string
	if p.Login != nil {
		pl, err := c.plan(connectors.Desired{Login: *p.Login})
		if err != nil {
			return err
		}
		newUPN, newSAM = pl.upn, pl.sam
	}
	if err := checkLengths(deref(p.GivenName), deref(p.FamilyName), deref(p.DisplayName), deref(p.Email)); err != nil {
		return err
	}
	return c.withConn(ctx, func(l *ldap.Conn) error {
		e, err := c.entryByID(l, id)
		if err != nil {
			return err
		}
		m := ldap.NewModifyRequest(e.DN, nil)
		set := func(attr string, v *string) {
			if v == nil {
				return
			}
			nv := strings.TrimSpace(*v)
			switch cur := e.GetAttributeValue(attr); {
			case nv == cur:
			case nv == "" && len(e.GetAttributeValues(attr)) > 0:
				m.Delete(attr, nil)
			case nv != "":
				m.Replace(attr, []string{nv})
			}
		}
		set("givenName", p.GivenName)
		set("sn", p.FamilyName)
		set("displayName", p.DisplayName)
		set("mail", p.Email)
		if p.Login != nil {
			if e.GetAttributeValue("userPrincipalName") != newUPN {
				m.Replace("userPrincipalName", []string{newUPN})
			}
			if !strings.EqualFold(e.GetAttributeValue("sAMAccountName"), newSAM) {
				m.Replace("sAMAccountName", []string{newSAM})
			}
		}
		if p.Enabled != nil {
			uac, err := strconv.ParseInt(e.GetAttributeValue("userAccountControl"), 10, 64)
			if err != nil {
				return connectors.Transient(fmt.Sprintf("account %s has no readable userAccountControl (%q)", e.DN, e.GetAttributeValue("userAccountControl")), err)
			}
			next := uac | uacDisabled
			if *p.Enabled {
				next = uac &^ uacDisabled
			}
			if next != uac {
				m.Replace("userAccountControl", []string{strconv.FormatInt(next, 10)})
			}
		}
		if len(m.Changes) > 0 {
			if err := l.Modify(m); err != nil {
				return classify("update account "+e.DN, err)
			}
		}
		if p.DisplayName != nil {
			given, family := e.GetAttributeValue("givenName"), e.GetAttributeValue("sn")
			if p.GivenName != nil {
				given = *p.GivenName
			}
			if p.FamilyName != nil {
				family = *p.FamilyName
			}
			sam := e.GetAttributeValue("sAMAccountName")
			if newSAM != "" {
				sam = newSAM
			}
			if err := c.rename(l, e.DN, e.GetAttributeValue("cn"), commonName(*p.DisplayName, given, family, sam)); err != nil {
				return err
			}
		}
		return nil
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rename gives the object at dn the cn want (or want (2), ... when taken)
// in the container it is in.
func (c *Conn) rename(l *ldap.Conn, dn, cur, want string) error {
	if cur == want {
		return nil
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) < 2 {
		return connectors.Transient(fmt.Sprintf("cannot rename %s: its DN does not parse", dn), err)
	}
	parent := (&ldap.DN{RDNs: parsed.RDNs[1:]}).String()
	for n := 1; n <= maxCNTries; n++ {
		cn := uniqueCN(want, n)
		if cn == cur {
			return nil
		}
		if !strings.EqualFold(cn, cur) {
			exists, err := dnExists(l, "CN="+ldap.EscapeDN(cn)+","+parent)
			if err != nil {
				return classify("look for "+cn+" in "+parent, err)
			}
			if exists {
				continue
			}
		}
		err := l.ModifyDN(ldap.NewModifyDNRequest(dn, "CN="+ldap.EscapeDN(cn), true, ""))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			continue
		}
		if err != nil {
			return classify(fmt.Sprintf("rename %s to %q", dn, cn), err)
		}
		c.log.Info("ad: account renamed", "from", dn, "cn", cn)
		return nil
	}
	return connectors.Rejected(fmt.Sprintf("%d accounts named %q already exist in %s", maxCNTries, want, parent), nil)
}

// SetPassword resets the account's password, as an administrator does:
// AD applies length and complexity, not the minimum age, and history only
// where the domain is set to.
func (c *Conn) SetPassword(ctx context.Context, id, password string) error {
	if password == "" {
		return connectors.Rejected("AD accounts cannot have an empty password", nil)
	}
	return c.withConn(ctx, func(l *ldap.Conn) error {
		e, err := c.entryByID(l, id)
		if err != nil {
			return err
		}
		if err := l.Modify(passwordChange(e.DN, password)); err != nil {
			return classify("set the password of "+e.DN, err)
		}
		return nil
	})
}

// Delete removes the account. AD keeps it as a tombstone (the change feed
// reports it deleted), from which only an administrator can bring it back.
func (c *Conn) Delete(ctx context.Context, id string) error {
	return c.withConn(ctx, func(l *ldap.Conn) error {
		e, err := c.entryByID(l, id)
		if err != nil {
			return err
		}
		err = l.Del(ldap.NewDelRequest(e.DN, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNotAllowedOnNonLeaf) {
			// Some products hang objects under a user (Exchange
			// ActiveSync devices, BitLocker keys): delete the subtree.
			err = l.Del(ldap.NewDelRequest(e.DN, []ldap.Control{ldap.NewControlString(ldap.ControlTypeMicrosoftTreeDelete, true, "")}))
		}
		if err != nil {
			return classify("delete "+e.DN, err)
		}
		c.log.Info("ad: account deleted", "dn", e.DN, "id", id)
		return nil
	})
}
