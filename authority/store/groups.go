package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const kindGroup = "group"

func (s *Etcd) groupKey(id string) string { return s.key(colGroups, id) }

func (s *Etcd) memberKeyOf(groupID, userID string) string {
	return s.key(colMembers, groupID, "/", userID)
}

// CreateGroup stores a new group; a zero GIDNumber gets the next free
// number from the counter users share, so no group takes a user's private
// group number.
func (s *Etcd) CreateGroup(ctx context.Context, g *Group, w Write) (*Group, error) {
	g = g.Clone()
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	if strings.TrimSpace(g.DisplayName) == "" {
		return nil, errors.New("a group needs a displayName")
	}
	auto := g.GIDNumber == 0
	for attempt := 0; ; attempt++ {
		if auto {
			n, err := s.allocateIDNumber(ctx)
			if err != nil {
				return nil, err
			}
			g.GIDNumber = n
		}
		rev, err := s.createRecord(ctx, kindGroup, s.groupKey(g.ID), g.ID, g, groupUniques(g), nil, nil, w)
		var ce *ConflictError
		if auto && errors.As(err, &ce) && ce.Field == "gidNumber" && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		g.Version = rev
		return g, nil
	}
}

// UpdateGroup applies fn to the current group record (not its members).
func (s *Etcd) UpdateGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) (Write, error)) (*Group, error) {
	return s.ChangeGroup(ctx, id, ifVersion, fn, nil, nil)
}

// MaxAtomicMembers is how many member additions and removals ChangeGroup
// makes in the same transaction as the record change; etcd's default
// limit is 128 operations per transaction.
const MaxAtomicMembers = 50

// ChangeGroup applies fn to the group record and adds and removes
// members, all in one transaction: a SCIM PATCH that renames a group and
// adds a member that does not exist changes nothing. At most
// MaxAtomicMembers member changes.
func (s *Etcd) ChangeGroup(ctx context.Context, id string, ifVersion int64, fn func(*Group) (Write, error), add, remove []string) (*Group, error) {
	if len(add)+len(remove) > MaxAtomicMembers {
		return nil, fmt.Errorf("at most %d member changes go with a group change in one transaction", MaxAtomicMembers)
	}
	for _, uid := range append(append([]string(nil), add...), remove...) {
		if uid == "" || strings.Contains(uid, "/") {
			return nil, &NotFoundError{Kind: kindUser, Key: uid}
		}
	}
	// Fail fast on an unknown user; the compare in the transaction still
	// guards against one deleted meanwhile.
	if x, err := s.view(); err == nil {
		x.mu.RLock()
		for _, uid := range add {
			if x.users[uid] == nil {
				x.mu.RUnlock()
				return nil, &NotFoundError{Kind: kindUser, Key: uid}
			}
		}
		x.mu.RUnlock()
	}
	if fn == nil {
		fn = func(*Group) (Write, error) { return Write{}, nil }
	}
	var result *Group
	var memberCmps []clientv3.Cmp
	var memberOps []clientv3.Op
	for _, uid := range add {
		memberCmps = append(memberCmps, exists(s.userKey(uid)))
		memberOps = append(memberOps, clientv3.OpPut(s.memberKeyOf(id, uid), ""))
	}
	for _, uid := range remove {
		memberOps = append(memberOps, clientv3.OpDelete(s.memberKeyOf(id, uid)))
	}
	rev, err := s.updateRecord(ctx, kindGroup, s.groupKey(id), id, ifVersion, nil,
		func(cur []byte, reads *clientv3.TxnResponse) (mutation, error) {
			g := new(Group)
			if err := json.Unmarshal(cur, g); err != nil {
				return mutation{}, fmt.Errorf("decoding group %s: %w", id, err)
			}
			g.Version = reads.Responses[0].GetResponseRange().Kvs[0].ModRevision
			old := groupUniques(g)
			w, err := fn(g)
			if err != nil {
				return mutation{}, err
			}
			if g.ID != id {
				return mutation{}, errors.New("a group's id cannot change")
			}
			if strings.TrimSpace(g.DisplayName) == "" {
				return mutation{}, errors.New("a group needs a displayName")
			}
			data, err := json.Marshal(g)
			if err != nil {
				return mutation{}, err
			}
			result = g
			return mutation{data: data, old: old, next: groupUniques(g), cmps: memberCmps, ops: memberOps, w: w}, nil
		})
	if errors.Is(err, errContention) && len(add) > 0 {
		// A failing "user exists" compare looks like contention to the
		// retry loop; name the missing user instead.
		if merr := s.missingMember(ctx, id, add); merr != nil && !errors.Is(merr, errContention) {
			return nil, merr
		}
	}
	if err != nil {
		return nil, err
	}
	result.Version = rev
	return result, nil
}

// DeleteGroup removes a group, its unique keys and all its membership keys
// in one transaction (a range delete, whatever the group's size).
func (s *Etcd) DeleteGroup(ctx context.Context, id string, ifVersion int64, w Write) error {
	_, err := s.deleteRecord(ctx, kindGroup, s.groupKey(id), id, ifVersion,
		func(cur []byte) ([]unique, error) {
			g := new(Group)
			if err := json.Unmarshal(cur, g); err != nil {
				return nil, err
			}
			return groupUniques(g), nil
		},
		func() []clientv3.Op {
			p := s.key(colMembers, id, "/")
			return []clientv3.Op{clientv3.OpDelete(p, clientv3.WithPrefix())}
		}, w)
	return err
}

// GetGroup returns the group with id.
func (s *Etcd) GetGroup(ctx context.Context, id string) (*Group, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if g := x.groups[id]; g != nil {
		return g.Clone(), nil
	}
	return nil, &NotFoundError{Kind: kindGroup, Key: id}
}

// LookupGroup finds a group by displayName (case-insensitive), externalId
// or gidNumber.
func (s *Etcd) LookupGroup(ctx context.Context, by LookupField, value string) (*Group, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	var g *Group
	switch by {
	case ByDisplayName, ByName:
		g = x.groupByName[strings.ToLower(value)]
	case ByExternalID:
		g = x.groupByExt[value]
	case ByGIDNumber:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, &NotFoundError{Kind: kindGroup, Key: value}
		}
		g = x.groupByGID[n]
	default:
		return nil, fmt.Errorf("groups cannot be looked up by field %d", by)
	}
	if g == nil {
		return nil, &NotFoundError{Kind: kindGroup, Key: value}
	}
	return g.Clone(), nil
}

// ListGroups pages through groups ordered by lowercased displayName.
func (s *Etcd) ListGroups(ctx context.Context, opts ListOptions) (Page[*Group], error) {
	x, err := s.view()
	if err != nil {
		return Page[*Group]{}, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return page(x.groupOrder, opts, func(id string) (*Group, bool) {
		g := x.groups[id]
		if g == nil {
			return nil, false
		}
		return g.Clone(), true
	}), nil
}

// membersPerTxn bounds one membership transaction: a compare and a put per
// member, within etcd's default of 128 operations.
const membersPerTxn = 60

// AddMembers adds users to a group, one key each, in transactions of up to
// membersPerTxn members. Each transaction checks that the group and its
// users exist; a missing user fails with NotFoundError naming it, and the
// batches before it stay applied.
func (s *Etcd) AddMembers(ctx context.Context, groupID string, userIDs []string, w Write) error {
	x, err := s.view()
	if err != nil {
		return err
	}
	x.mu.RLock()
	var todo []string
	seen := map[string]bool{}
	for _, u := range userIDs {
		if !x.isMember(groupID, u) && !seen[u] {
			seen[u] = true
			todo = append(todo, u)
		}
	}
	x.mu.RUnlock()
	return s.memberBatches(ctx, groupID, todo, w, func(uid string) (clientv3.Cmp, clientv3.Op, bool) {
		return exists(s.userKey(uid)), clientv3.OpPut(s.memberKeyOf(groupID, uid), ""), true
	})
}

// RemoveMembers removes users from a group; absent members are ignored.
func (s *Etcd) RemoveMembers(ctx context.Context, groupID string, userIDs []string, w Write) error {
	return s.memberBatches(ctx, groupID, userIDs, w, func(uid string) (clientv3.Cmp, clientv3.Op, bool) {
		return clientv3.Cmp{}, clientv3.OpDelete(s.memberKeyOf(groupID, uid)), false
	})
}

func (s *Etcd) memberBatches(ctx context.Context, groupID string, userIDs []string, w Write,
	each func(uid string) (clientv3.Cmp, clientv3.Op, bool)) error {
	gk := s.groupKey(groupID)
	if len(userIDs) == 0 {
		// Still check the group, so callers get NotFound for a bad id.
		if _, err := s.GetGroup(ctx, groupID); err != nil {
			return err
		}
		return nil
	}
	for start := 0; start < len(userIDs); start += membersPerTxn {
		batch := userIDs[start:min(start+membersPerTxn, len(userIDs))]
		cmps := []clientv3.Cmp{exists(gk)}
		var ops []clientv3.Op
		for _, uid := range batch {
			if uid == "" || strings.Contains(uid, "/") {
				return &NotFoundError{Kind: kindUser, Key: uid}
			}
			c, op, guard := each(uid)
			if guard {
				cmps = append(cmps, c)
			}
			ops = append(ops, op)
		}
		if start == 0 {
			wops, err := s.writeOps(w)
			if err != nil {
				return err
			}
			ops = append(ops, wops...)
		}
		resp, err := s.commit(ctx, cmps, ops)
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			return s.missingMember(ctx, groupID, batch)
		}
	}
	return nil
}

// missingMember explains a failed membership transaction.
func (s *Etcd) missingMember(ctx context.Context, groupID string, batch []string) error {
	ops := []clientv3.Op{clientv3.OpGet(s.groupKey(groupID), clientv3.WithCountOnly())}
	for _, uid := range batch {
		ops = append(ops, clientv3.OpGet(s.userKey(uid), clientv3.WithCountOnly()))
	}
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).Then(ops...).Commit()
	if err != nil {
		return s.mapErr(err)
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return &NotFoundError{Kind: kindGroup, Key: groupID}
	}
	for i, uid := range batch {
		if resp.Responses[i+1].GetResponseRange().Count == 0 {
			return &NotFoundError{Kind: kindUser, Key: uid}
		}
	}
	return errContention
}

// Members pages through a group's member ids in id order. Members whose
// user no longer exists are left out.
func (s *Etcd) Members(ctx context.Context, groupID string, opts ListOptions) (Page[string], error) {
	x, err := s.view()
	if err != nil {
		return Page[string]{}, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.groups[groupID] == nil {
		return Page[string]{}, &NotFoundError{Kind: kindGroup, Key: groupID}
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxPageSize)
	m := x.members[groupID]
	if m == nil {
		return Page[string]{}, nil
	}
	p := Page[string]{Total: m.Len()}
	skip := opts.Offset
	more := false
	visit := func(id string) bool {
		if id == opts.After {
			return true
		}
		if skip > 0 {
			skip--
			return true
		}
		if len(p.Items) == limit {
			more = true
			return false
		}
		if x.users[id] != nil {
			p.Items = append(p.Items, id)
		}
		return true
	}
	m.AscendGreaterOrEqual(opts.After, visit)
	if more && len(p.Items) > 0 {
		p.Next = p.Items[len(p.Items)-1]
	}
	return p, nil
}

// IsMember reports whether the user is in the group.
func (s *Etcd) IsMember(ctx context.Context, groupID, userID string) (bool, error) {
	x, err := s.view()
	if err != nil {
		return false, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.isMember(groupID, userID), nil
}

// GroupsOf returns the ids of the groups a user is in.
func (s *Etcd) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := append([]string(nil), x.memberOf[userID]...)
	sort.Strings(out)
	return out, nil
}
