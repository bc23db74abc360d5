package m365

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/headwater/headwater/connectors"
)

// userSelect is what every read asks for. accountEnabled is not in Graph's
// default set, and asking only for what is used keeps pages small.
var userSelect = []string{"id", "userPrincipalName", "mail", "givenName", "surname", "displayName", "accountEnabled", "userType"}

// pageSize is the largest page Graph serves for users.
const pageSize = 999

func (t *tenant) users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(map[string]string{"baseurl": t.cfg.GraphURL}, t.adapter)
}

// Check reports why d cannot be provisioned: a login that is not a valid
// userPrincipalName, or whose domain no configured tenant has verified.
func (c *Conn) Check(ctx context.Context, d connectors.Desired) error {
	_, err := c.check(ctx, d)
	return err
}

func (c *Conn) check(ctx context.Context, d connectors.Desired) (*tenant, error) {
	if err := checkLogin(d.Login); err != nil {
		return nil, err
	}
	if len(d.DisplayName) > 256 {
		return nil, connectors.Rejected("display name is longer than the 256 characters Microsoft 365 allows", nil)
	}
	if d.Email != "" && !strings.Contains(strings.Trim(d.Email, "@"), "@") {
		return nil, connectors.Rejected(fmt.Sprintf("email %q is not an address (name@domain)", d.Email), nil)
	}
	return c.route(ctx, d.Login)
}

// checkLogin applies Entra's rules for a userPrincipalName: up to 64
// characters of A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @, not starting or
// ending with a dot, 113 characters in all.
func checkLogin(login string) error {
	bad := func(why string) error {
		return connectors.Rejected(fmt.Sprintf("login %q cannot be a Microsoft 365 user principal name: %s", login, why), nil)
	}
	local, domain, ok := strings.Cut(login, "@")
	switch {
	case !ok || local == "" || domain == "":
		return bad("it must have the form name@domain")
	case strings.Contains(domain, "@"):
		return bad("it has more than one @")
	case len(local) > 64:
		return bad("the part before the @ is longer than 64 characters")
	case len(login) > 113:
		return bad("it is longer than 113 characters")
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, "."):
		return bad("the part before the @ cannot start or end with a dot")
	}
	for _, r := range local {
		if !upnLocalRune(r) {
			return bad(fmt.Sprintf("%q is not allowed before the @ (only letters A-Z, digits and ' . - _ ! # ^ ~)", r))
		}
	}
	return nil
}

func upnLocalRune(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || strings.ContainsRune("'.-_!#^~", r)
}

// mailNickname derives the Exchange alias Graph requires on create from the
// login's local part, keeping only characters every alias may contain.
func mailNickname(login string) string {
	local, _, _ := strings.Cut(login, "@")
	var b strings.Builder
	lastDot := true // no leading dot
	for _, r := range local {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '-' || r == '_':
			b.WriteRune(r)
			lastDot = false
		case r == '.' && !lastDot:
			b.WriteRune(r)
			lastDot = true
		}
	}
	s := strings.TrimRight(b.String(), ".")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], ".")
	}
	if s == "" {
		h := fnv.New32a()
		h.Write([]byte(strings.ToLower(login)))
		s = fmt.Sprintf("user%08x", h.Sum32())
	}
	return s
}

// displayName is what Graph, which requires one, gets when the mapping
// gives none.
func displayName(d connectors.Desired) string {
	if d.DisplayName != "" {
		return d.DisplayName
	}
	if n := strings.TrimSpace(d.GivenName + " " + d.FamilyName); n != "" {
		return n
	}
	local, _, _ := strings.Cut(d.Login, "@")
	return local
}

func (c *Conn) toAccount(t *tenant, u models.Userable) connectors.Account {
	a := connectors.Account{
		ID:          accountID(t, deref(u.GetId())),
		Login:       deref(u.GetUserPrincipalName()),
		Email:       deref(u.GetMail()),
		GivenName:   deref(u.GetGivenName()),
		FamilyName:  deref(u.GetSurname()),
		DisplayName: deref(u.GetDisplayName()),
	}
	if e := u.GetAccountEnabled(); e != nil {
		a.Enabled = *e
	}
	return a
}

// isGuest reports B2B guests, who are invited rather than provisioned and
// are left out of List and Changes.
func isGuest(u models.Userable) bool {
	return strings.EqualFold(deref(u.GetUserType()), "Guest")
}

// Get reads an account by id. Right after Create, Graph may answer 404 for
// a few seconds while the new user replicates: Get then returns
// ErrNotFound, and the framework's next pass finds the user.
func (c *Conn) Get(ctx context.Context, id string) (*connectors.Account, error) {
	t, oid, err := c.parseID(id)
	if err != nil {
		return nil, err
	}
	var u models.Userable
	err = c.call(ctx, t, "get user "+oid, func(ctx context.Context) error {
		var err error
		u, err = t.users().ByUserId(oid).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userSelect},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	a := c.toAccount(t, u)
	return &a, nil
}

// Find looks a member user up by userPrincipalName in the tenant the login
// routes to (in every tenant when it routes nowhere), then by mail in every
// tenant. Graph compares both without regard to case.
func (c *Conn) Find(ctx context.Context, login, email string) (*connectors.Account, error) {
	if login != "" {
		candidates := c.tenants
		if t, err := c.route(ctx, login); err == nil {
			candidates = []*tenant{t}
		} else if connectors.KindOf(err) != connectors.KindRejected {
			return nil, err
		}
		a, err := c.findBy(ctx, candidates, "userPrincipalName", login)
		if !errors.Is(err, connectors.ErrNotFound) {
			return a, err
		}
	}
	if email != "" {
		a, err := c.findBy(ctx, c.tenants, "mail", email)
		if !errors.Is(err, connectors.ErrNotFound) {
			return a, err
		}
	}
	return nil, fmt.Errorf("%w: no user with login %q or email %q", connectors.ErrNotFound, login, email)
}

func (c *Conn) findBy(ctx context.Context, ts []*tenant, prop, value string) (*connectors.Account, error) {
	filter := prop + " eq '" + strings.ReplaceAll(value, "'", "''") + "'"
	top := int32(5) // a few, to notice ambiguity and step over guests
	for _, t := range ts {
		var found []models.Userable
		err := c.call(ctx, t, "find user by "+prop, func(ctx context.Context) error {
			resp, err := t.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: userSelect, Top: &top},
			})
			if err != nil {
				return err
			}
			for _, u := range resp.GetValue() {
				// A guest's mail is the outside address it was invited
				// with: never the account Headwater provisions.
				if !isGuest(u) {
					found = append(found, u)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			continue
		}
		if len(found) > 1 {
			c.log.Warn("m365: several users match, taking the first", "tenant", t.id, "property", prop)
		}
		a := c.toAccount(t, found[0])
		return &a, nil
	}
	return nil, connectors.ErrNotFound
}

// newUser is the POST body of a create.
func (c *Conn) newUser(d connectors.Desired, password string) models.Userable {
	u := models.NewUser()
	u.SetAccountEnabled(&d.Enabled)
	name := displayName(d)
	u.SetDisplayName(&name)
	nick := mailNickname(d.Login)
	u.SetMailNickname(&nick)
	u.SetUserPrincipalName(&d.Login)
	if d.GivenName != "" {
		u.SetGivenName(&d.GivenName)
	}
	if d.FamilyName != "" {
		u.SetSurname(&d.FamilyName)
	}
	if d.Email != "" {
		u.SetMail(&d.Email)
	}
	if c.usageLocation != "" {
		u.SetUsageLocation(&c.usageLocation)
	}
	u.SetPasswordProfile(passwordProfile(password))
	return u
}

// passwordProfile sets a password the user keeps: Headwater is where
// passwords change, so Microsoft must not ask for another at next sign-in.
func passwordProfile(password string) models.PasswordProfileable {
	pp := models.NewPasswordProfile()
	pp.SetPassword(&password)
	force := false
	pp.SetForceChangePasswordNextSignIn(&force)
	return pp
}

// Create makes the user and returns it as the POST answered, not as a
// re-read: Graph may not find a user by id for a few seconds after creating
// it. Creating a login that exists already is Rejected with Graph's words
// (the framework looks the account up with Find before it creates).
func (c *Conn) Create(ctx context.Context, d connectors.Desired, password string) (*connectors.Account, error) {
	if password == "" {
		return nil, connectors.Rejected("a user cannot be created in Microsoft 365 without a password", nil)
	}
	t, err := c.check(ctx, d)
	if err != nil {
		return nil, err
	}
	body := c.newUser(d, password)
	var created models.Userable
	err = c.call(ctx, t, "create user "+d.Login, func(ctx context.Context) error {
		var err error
		created, err = t.users().Post(ctx, body, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	if created == nil || created.GetId() == nil {
		return nil, connectors.Transient("Microsoft Graph created the user but did not return its id", nil)
	}
	return c.createdAccount(t, d, deref(created.GetId()), created), nil
}

// createdAccount is the account as created: Graph's answer where it has the
// property (the POST answer leaves accountEnabled out), the request
// otherwise.
func (c *Conn) createdAccount(t *tenant, d connectors.Desired, oid string, created models.Userable) *connectors.Account {
	a := connectors.Account{
		ID:          accountID(t, oid),
		Login:       d.Login,
		Email:       d.Email,
		GivenName:   d.GivenName,
		FamilyName:  d.FamilyName,
		DisplayName: displayName(d),
		Enabled:     d.Enabled,
	}
	if created != nil {
		if v := created.GetUserPrincipalName(); v != nil {
			a.Login = *v
		}
		if v := created.GetAccountEnabled(); v != nil {
			a.Enabled = *v
		}
	}
	return &a
}

// Update applies p. A login in another domain is refused: Microsoft 365
// cannot move a user to another domain by renaming it. An empty given
// name, family name or email is sent as null, which is how Graph clears a
// property. Right after Create, Graph may answer 404 for a few seconds, as
// for Get.
func (c *Conn) Update(ctx context.Context, id string, p connectors.Patch) error {
	t, oid, err := c.parseID(id)
	if err != nil {
		return err
	}
	if p.Empty() {
		return nil
	}
	if p.Login != nil {
		if err := c.checkRename(ctx, t, oid, *p.Login); err != nil {
			return err
		}
	}
	body := patchBody(p)
	return c.call(ctx, t, "update user "+oid, func(ctx context.Context) error {
		_, err := t.users().ByUserId(oid).Patch(ctx, body, nil)
		return err
	})
}

// checkRename allows a new userPrincipalName only in the user's current
// domain.
func (c *Conn) checkRename(ctx context.Context, t *tenant, oid, login string) error {
	if err := checkLogin(login); err != nil {
		return err
	}
	cur, err := c.Get(ctx, accountID(t, oid))
	if err != nil {
		return err
	}
	_, from, _ := strings.Cut(cur.Login, "@")
	_, to, _ := strings.Cut(login, "@")
	if !strings.EqualFold(from, to) {
		return connectors.Rejected(fmt.Sprintf("M365 cannot move a user to another domain by rename (%s is in %s, the new login %s is in %s): create the user in the new domain instead", cur.Login, from, login, to), nil)
	}
	return nil
}

// patchBody is the PATCH body of an update: only the properties p sets,
// which the SDK's backing store sends and nothing else.
func patchBody(p connectors.Patch) models.Userable {
	u := models.NewUser()
	nulls := map[string]any{}
	optional := func(name string, v *string, set func(*string)) {
		switch {
		case v == nil:
		case *v == "":
			nulls[name] = nil
		default:
			s := *v
			set(&s)
		}
	}
	if p.Login != nil {
		s := *p.Login
		u.SetUserPrincipalName(&s)
	}
	if p.DisplayName != nil {
		s := *p.DisplayName
		u.SetDisplayName(&s)
	}
	optional("givenName", p.GivenName, u.SetGivenName)
	optional("surname", p.FamilyName, u.SetSurname)
	optional("mail", p.Email, u.SetMail)
	if p.Enabled != nil {
		e := *p.Enabled
		u.SetAccountEnabled(&e)
	}
	if len(nulls) > 0 {
		u.SetAdditionalData(nulls)
	}
	return u
}

// SetPassword replaces the user's password, which the user keeps.
func (c *Conn) SetPassword(ctx context.Context, id, password string) error {
	t, oid, err := c.parseID(id)
	if err != nil {
		return err
	}
	body := models.NewUser()
	body.SetPasswordProfile(passwordProfile(password))
	return c.call(ctx, t, "set password of user "+oid, func(ctx context.Context) error {
		_, err := t.users().ByUserId(oid).Patch(ctx, body, nil)
		return err
	})
}

// Delete deletes the user (Entra keeps it 30 days among deleted items).
// A user already gone is ErrNotFound, which the framework counts as done.
func (c *Conn) Delete(ctx context.Context, id string) error {
	t, oid, err := c.parseID(id)
	if err != nil {
		return err
	}
	return c.call(ctx, t, "delete user "+oid, func(ctx context.Context) error {
		return t.users().ByUserId(oid).Delete(ctx, nil)
	})
}

// List calls fn for every member user of every tenant, a page of 999 at a
// time. Guests are left out: Headwater does not provision them.
func (c *Conn) List(ctx context.Context, fn func(connectors.Account) error) error {
	for _, t := range c.tenants {
		if err := c.listTenant(ctx, t, fn); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) listTenant(ctx context.Context, t *tenant, fn func(connectors.Account) error) error {
	top := int32(pageSize)
	get := func(ctx context.Context) (models.UserCollectionResponseable, error) {
		return t.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: userSelect, Top: &top},
		})
	}
	for {
		var page models.UserCollectionResponseable
		err := c.call(ctx, t, "list users", func(ctx context.Context) error {
			var err error
			page, err = get(ctx)
			return err
		})
		if err != nil {
			return err
		}
		for _, u := range page.GetValue() {
			if isGuest(u) {
				continue
			}
			if err := fn(c.toAccount(t, u)); err != nil {
				return err
			}
		}
		next := deref(page.GetOdataNextLink())
		if next == "" {
			return nil
		}
		get = func(ctx context.Context) (models.UserCollectionResponseable, error) {
			return t.users().WithUrl(next).Get(ctx, nil)
		}
	}
}
