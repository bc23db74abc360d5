package authority

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/headwater/headwater/authority/store"
)

// AdminUserName is the built-in administrator.
const AdminUserName = "admin"

// Bootstrap creates the built-in admin user on first start, with
// adminPassword when given. An existing admin is left as it is: the
// password applies at first start only.
func (a *Authority) Bootstrap(ctx context.Context, adminPassword string) (created bool, err error) {
	if _, err := a.store.LookupUser(ctx, store.ByUserName, AdminUserName); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	ctx = WithActor(ctx, Actor{Name: "system:bootstrap"})
	u := &User{UserName: AdminUserName, DisplayName: "Administrator", Roles: []string{RoleAdmin}, State: StateActive}
	if _, err := a.CreateUser(ctx, u, adminPassword); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return false, nil // another replica created it first
		}
		return false, fmt.Errorf("creating the admin user: %w", err)
	}
	return true, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
