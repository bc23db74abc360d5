package authority

import (
	"context"

	"github.com/google/uuid"

	"github.com/headwater/headwater/authority/store"
)

// CreateGroup validates and stores a group (without members).
func (a *Authority) CreateGroup(ctx context.Context, g *Group) (*Group, error) {
	g = g.Clone()
	g.ID, g.Version = uuid.NewString(), 0
	if err := normalizeGroup(g); err != nil {
		return nil, err
	}
	now := a.now().UTC()
	g.Created, g.Modified = now, now
	return a.store.CreateGroup(ctx, g, store.Write{Audit: a.audit(ctx, "group.create", "group", g.ID, map[string]string{"displayName": g.DisplayName})})
}

// UpdateGroup applies fn to a copy of the group record.
func (a *Authority) UpdateGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) error) (*Group, error) {
	return a.ChangeGroup(ctx, id, ifVersion, fn, nil, nil)
}

// MaxAtomicMembers is how many member changes ChangeGroup accepts.
const MaxAtomicMembers = store.MaxAtomicMembers

// ChangeGroup applies fn to the group record and adds and removes up to
// MaxAtomicMembers members in the same write: all of it or nothing.
func (a *Authority) ChangeGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) error, add, remove []string) (*Group, error) {
	return a.store.ChangeGroup(ctx, id, ifVersion, func(g *Group) (store.Write, error) {
		created := g.Created
		if fn != nil {
			if err := fn(g); err != nil {
				return store.Write{}, err
			}
		}
		if err := normalizeGroup(g); err != nil {
			return store.Write{}, err
		}
		g.Created, g.Modified = created, a.now().UTC()
		details := map[string]string{"displayName": g.DisplayName}
		if len(add)+len(remove) > 0 {
			details["membersAdded"], details["membersRemoved"] = itoa(len(add)), itoa(len(remove))
		}
		return store.Write{Audit: a.audit(ctx, "group.update", "group", id, details)}, nil
	}, add, remove)
}

// DeleteGroup removes a group and all its memberships.
func (a *Authority) DeleteGroup(ctx context.Context, id string, ifVersion int64) error {
	return a.store.DeleteGroup(ctx, id, ifVersion, store.Write{Audit: a.audit(ctx, "group.delete", "group", id, nil)})
}

// GetGroup returns a group by id.
func (a *Authority) GetGroup(ctx context.Context, id string) (*Group, error) {
	return a.store.GetGroup(ctx, id)
}

// LookupGroup finds a group by displayName, externalId or gidNumber.
func (a *Authority) LookupGroup(ctx context.Context, by LookupField, value string) (*Group, error) {
	return a.store.LookupGroup(ctx, by, value)
}

// ListGroups pages through groups by displayName.
func (a *Authority) ListGroups(ctx context.Context, opts ListOptions) (store.Page[*Group], error) {
	return a.store.ListGroups(ctx, opts)
}

// AddMembers adds users to a group.
func (a *Authority) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	return a.store.AddMembers(ctx, groupID, userIDs, store.Write{Audit: a.audit(ctx, "group.members.add", "group", groupID, map[string]string{"count": itoa(len(userIDs))})})
}

// RemoveMembers removes users from a group.
func (a *Authority) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	return a.store.RemoveMembers(ctx, groupID, userIDs, store.Write{Audit: a.audit(ctx, "group.members.remove", "group", groupID, map[string]string{"count": itoa(len(userIDs))})})
}

// Members pages through a group's member ids.
func (a *Authority) Members(ctx context.Context, groupID string, opts ListOptions) (store.Page[string], error) {
	return a.store.Members(ctx, groupID, opts)
}

// GroupsOf returns the ids of a user's groups.
func (a *Authority) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	return a.store.GroupsOf(ctx, userID)
}

// IsMember reports whether a user is in a group.
func (a *Authority) IsMember(ctx context.Context, groupID, userID string) (bool, error) {
	return a.store.IsMember(ctx, groupID, userID)
}
