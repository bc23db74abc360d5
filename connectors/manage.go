package connectors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/headwater/headwater/authority"
)

// ImportOptions control an import.
type ImportOptions struct {
	// DryRun reports what would happen and changes nothing.
	DryRun bool
	// CreateStaged creates a staged user (and a binding) for every
	// account that matches nobody.
	CreateStaged bool
	// Progress, when set, is called after every 100 accounts.
	Progress func(seen int)
}

// Match is an account matched to a user.
type Match struct {
	Account Account `json:"account"`
	UserID  string  `json:"userId"`
	User    string  `json:"userName"`
	By      string  `json:"by"` // email, login or accountName
}

// ImportResult is what an import found and did.
type ImportResult struct {
	Accounts     int       `json:"accounts"`
	AlreadyBound int       `json:"alreadyBound"`
	Matched      int       `json:"matched"`
	Created      int       `json:"created"`
	Matches      []Match   `json:"matches,omitempty"`
	Unmatched    []Account `json:"unmatched,omitempty"`
	// Conflicts are accounts whose user is already bound to another
	// account of this directory.
	Conflicts []Match `json:"conflicts,omitempty"`
	DryRun    bool    `json:"dryRun"`
}

// Import lists the directory's accounts and matches each to a user: by
// email (case-insensitive), then by login (a UPN as email, or the login
// as userName), then by the login's account name. Matches become
// bindings with the account's id; the rest are listed, or created as
// staged users.
func (m *Manager) Import(ctx context.Context, name string, opts ImportOptions) (*ImportResult, error) {
	d, err := m.auth.GetDirectory(ctx, name)
	if err != nil {
		return nil, err
	}
	conn, err := m.connect(ctx, d)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	bs, err := m.auth.BindingsOf(ctx, name)
	if err != nil {
		return nil, err
	}
	byExt, byUser := map[string]bool{}, map[string]string{}
	for _, b := range bs {
		if b.ExternalID != "" {
			byExt[b.ExternalID] = true
		}
		byUser[b.UserID] = b.ExternalID
	}
	res := &ImportResult{DryRun: opts.DryRun}
	err = conn.List(ctx, func(acct Account) error {
		res.Accounts++
		if opts.Progress != nil && res.Accounts%100 == 0 {
			opts.Progress(res.Accounts)
		}
		if byExt[acct.ID] {
			res.AlreadyBound++
			return nil
		}
		u, by := m.match(ctx, acct)
		if u == nil {
			if !opts.CreateStaged {
				res.Unmatched = append(res.Unmatched, acct)
				return nil
			}
			if opts.DryRun {
				res.Created++
				return nil
			}
			nu, err := m.auth.CreateUser(ctx, stagedUser(acct), "")
			if err != nil {
				res.Unmatched = append(res.Unmatched, acct)
				m.log.Info("import: creating a staged user failed", "account", acct.Login, "err", err)
				return nil
			}
			res.Created++
			u, by = nu, "created"
		}
		mt := Match{Account: acct, UserID: u.ID, User: u.UserName, By: by}
		if ext, bound := byUser[u.ID]; bound && ext != "" && ext != acct.ID {
			res.Conflicts = append(res.Conflicts, mt)
			return nil
		} else if bound {
			// Bound, but the account was not found yet: this is it.
			if !opts.DryRun {
				if _, err := m.auth.UpdateBinding(ctx, u.ID, name, func(b *authority.Binding) { b.ExternalID = acct.ID }); err != nil {
					return fmt.Errorf("recording %s's account: %w", u.UserName, err)
				}
			}
			byUser[u.ID] = acct.ID
			res.Matched++
			res.Matches = append(res.Matches, mt)
			return nil
		}
		if !opts.DryRun {
			if _, err := m.auth.BindAccount(ctx, &authority.Binding{UserID: u.ID, Directory: name, ExternalID: acct.ID, Source: "direct"}); err != nil {
				return fmt.Errorf("binding %s to %s: %w", u.UserName, acct.Login, err)
			}
		}
		byUser[u.ID] = acct.ID
		if by != "created" {
			res.Matched++
		}
		res.Matches = append(res.Matches, mt)
		return nil
	})
	if opts.Progress != nil {
		opts.Progress(res.Accounts)
	}
	return res, err
}

func (m *Manager) match(ctx context.Context, acct Account) (*authority.User, string) {
	try := func(by authority.LookupField, v string) *authority.User {
		if v == "" {
			return nil
		}
		u, err := m.auth.LookupUser(ctx, by, v)
		if err != nil {
			return nil
		}
		return u
	}
	if u := try(authority.ByEmail, acct.Email); u != nil {
		return u, "email"
	}
	if strings.Contains(acct.Login, "@") {
		if u := try(authority.ByEmail, acct.Login); u != nil {
			return u, "login"
		}
	}
	if u := try(authority.ByUserName, acct.Login); u != nil {
		return u, "login"
	}
	if local, _, ok := strings.Cut(acct.Login, "@"); ok {
		if u := try(authority.ByUserName, local); u != nil {
			return u, "accountName"
		}
	}
	return nil, ""
}

// stagedUser is the user an unmatched account becomes.
func stagedUser(a Account) *authority.User {
	name := a.Login
	if local, _, ok := strings.Cut(name, "@"); ok {
		name = local
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r) {
			return r
		}
		return -1
	}, name)
	u := &authority.User{UserName: name, State: authority.StateStaged, DisplayName: a.DisplayName,
		Name: authority.Name{GivenName: a.GivenName, FamilyName: a.FamilyName}}
	email := a.Email
	if email == "" && strings.Contains(a.Login, "@") {
		email = a.Login
	}
	if email != "" {
		u.Emails = []authority.Email{{Value: email, Primary: true}}
	}
	return u
}

// PlanItem is what a full pass would do for one bound user.
type PlanItem struct {
	UserID  string   `json:"userId"`
	User    string   `json:"userName,omitempty"`
	Action  string   `json:"action"` // create, update, disable, delete, mismatch, refused, none
	Changes []string `json:"changes,omitempty"`
	Account string   `json:"account,omitempty"`
}

// Plan computes what a full pass would change, changing nothing.
func (m *Manager) Plan(ctx context.Context, name string, fn func(PlanItem) error) error {
	d, err := m.auth.GetDirectory(ctx, name)
	if err != nil {
		return err
	}
	conn, err := m.connect(ctx, d)
	if err != nil {
		return err
	}
	defer conn.Close()
	w := &worker{m: m, dir: d}
	bs, err := m.auth.BindingsOf(ctx, name)
	if err != nil {
		return err
	}
	for _, b := range bs {
		res, err := w.reconcile(ctx, conn, b.UserID, "", "", true)
		item := PlanItem{UserID: b.UserID, Action: res.Action, Changes: res.Changes}
		if u, uerr := m.auth.GetUser(ctx, b.UserID); uerr == nil {
			item.User = u.UserName
		}
		if res.Account != nil {
			item.Account = res.Account.Login
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				return err
			}
			item.Action, item.Changes = "error", []string{err.Error()}
		}
		if err := fn(item); err != nil {
			return err
		}
	}
	return nil
}
