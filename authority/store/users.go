package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const kindUser = "user"

func (s *Etcd) userKey(id string) string { return s.key(colUsers, id) }

func (s *Etcd) bindingsPrefix(userID string) string { return s.key(colBindings, userID, "/") }

// idBlock hands out uidNumbers/gidNumbers from a block reserved in etcd, so
// concurrent creates do not all contend on one counter key. A crash leaves
// a gap in the numbers, never a duplicate: each number also has a unique
// key written with its record.
type idBlock struct {
	mu        sync.Mutex
	next, end int64
}

const idBlockSize = 16

func (s *Etcd) allocateIDNumber(ctx context.Context) (int64, error) {
	s.ids.mu.Lock()
	defer s.ids.mu.Unlock()
	if s.ids.next < s.ids.end {
		n := s.ids.next
		s.ids.next++
		return n, nil
	}
	key := s.key(colCounters, "idnumber")
	for attempt := 0; attempt < maxAttempts; attempt++ {
		resp, err := s.readRecord(ctx, key)
		if err != nil {
			return 0, err
		}
		start, rev := s.firstID, int64(0)
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			if start, err = strconv.ParseInt(string(kvs[0].Value), 10, 64); err != nil {
				return 0, fmt.Errorf("counter %s holds %q: %w", key, kvs[0].Value, err)
			}
			rev = kvs[0].ModRevision
		}
		tctx, cancel := s.withTimeout(ctx)
		tresp, err := s.cli.Txn(tctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, strconv.FormatInt(start+idBlockSize, 10))).
			Commit()
		cancel()
		if err != nil {
			return 0, s.mapErr(err)
		}
		if tresp.Succeeded {
			s.ids.next, s.ids.end = start+1, start+idBlockSize
			return start, nil
		}
	}
	return 0, errContention
}

// prepareUser fills in what the store owns (id, POSIX numbers) and returns
// whether the numbers were allocated here, so a clash can take new ones.
func (s *Etcd) prepareUser(ctx context.Context, u *User) (autoUID bool, err error) {
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	if strings.TrimSpace(u.UserName) == "" {
		return false, errors.New("a user needs a userName")
	}
	if u.UIDNumber == 0 {
		if u.UIDNumber, err = s.allocateIDNumber(ctx); err != nil {
			return false, err
		}
		autoUID = true
		if u.GIDNumber == 0 {
			u.GIDNumber = u.UIDNumber
		}
	}
	if u.GIDNumber == 0 {
		u.GIDNumber = u.UIDNumber
	}
	return autoUID, nil
}

// CreateUser stores a new user. An empty ID gets a UUID; a zero UIDNumber
// gets the next free number (and GIDNumber the same, for a user private
// group).
func (s *Etcd) CreateUser(ctx context.Context, u *User, w Write) (*User, error) {
	u = u.Clone()
	autoUID, err := s.prepareUser(ctx, u)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		rev, err := s.createRecord(ctx, kindUser, s.userKey(u.ID), u.ID, u, userUniques(u), nil, nil, w)
		var ce *ConflictError
		if autoUID && errors.As(err, &ce) && ce.Field == "uidNumber" && attempt < maxAttempts {
			// Someone gave this number explicitly; take the next one.
			sameGID := u.GIDNumber == u.UIDNumber
			if u.UIDNumber, err = s.allocateIDNumber(ctx); err != nil {
				return nil, err
			}
			if sameGID {
				u.GIDNumber = u.UIDNumber
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		u.Version = rev
		return u, nil
	}
}

// createBatch is how many users CreateUsers writes per transaction; each
// takes about six operations, within etcd's default of 128 per Txn.
const createBatch = 16

// CreateUsers creates users in batches of one transaction each. A batch
// that fails as a whole (one conflict fails the Txn) is retried user by
// user, so each user gets its own answer.
func (s *Etcd) CreateUsers(ctx context.Context, users []*User, ws []Write) ([]*User, []error) {
	out := make([]*User, len(users))
	errs := make([]error, len(users))
	for start := 0; start < len(users); start += createBatch {
		end := min(start+createBatch, len(users))
		if err := s.createUserBatch(ctx, users[start:end], ws, start, out); err == nil {
			continue
		}
		for i := start; i < end; i++ {
			var w Write
			if i < len(ws) {
				w = ws[i]
			}
			out[i], errs[i] = s.CreateUser(ctx, users[i], w)
		}
	}
	return out, errs
}

func (s *Etcd) createUserBatch(ctx context.Context, batch []*User, ws []Write, offset int, out []*User) error {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	prepared := make([]*User, len(batch))
	seen := map[string]bool{}
	for i, in := range batch {
		u := in.Clone()
		if _, err := s.prepareUser(ctx, u); err != nil {
			return err
		}
		us := userUniques(u)
		for _, x := range us {
			// Two users of one batch claiming the same value would both
			// pass their compares; leave such batches to one-by-one.
			if seen[x.field+"/"+x.value] {
				return errors.New("duplicate within batch")
			}
			seen[x.field+"/"+x.value] = true
		}
		data, err := json.Marshal(u)
		if err != nil {
			return err
		}
		key := s.userKey(u.ID)
		c, o, _ := s.recordOps(kindUser, key, u.ID, data, nil, us)
		cmps = append(append(cmps, notExists(key)), c...)
		ops = append(ops, o...)
		if offset+i < len(ws) {
			wo, err := s.writeOps(ws[offset+i])
			if err != nil {
				return err
			}
			ops = append(ops, wo...)
		}
		prepared[i] = u
	}
	resp, err := s.commit(ctx, cmps, ops)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errors.New("batch conflicted")
	}
	for i, u := range prepared {
		u.Version = resp.Header.Revision
		out[offset+i] = u
	}
	return nil
}

// UpdateUser applies fn to the current user and writes the result if the
// user is still at ifVersion (0: any version). fn may run more than once.
func (s *Etcd) UpdateUser(ctx context.Context, id string, ifVersion int64, fn UserUpdate) (*User, error) {
	var result *User
	bp := s.bindingsPrefix(id)
	rev, err := s.updateRecord(ctx, kindUser, s.userKey(id), id, ifVersion,
		[]clientv3.Op{clientv3.OpGet(bp, clientv3.WithPrefix())},
		func(cur []byte, reads *clientv3.TxnResponse) (mutation, error) {
			u := new(User)
			if err := json.Unmarshal(cur, u); err != nil {
				return mutation{}, fmt.Errorf("decoding user %s: %w", id, err)
			}
			u.Version = reads.Responses[0].GetResponseRange().Kvs[0].ModRevision
			var bindings []Binding
			for _, kv := range reads.Responses[1].GetResponseRange().Kvs {
				var b Binding
				if err := json.Unmarshal(kv.Value, &b); err != nil {
					return mutation{}, fmt.Errorf("decoding binding %s: %w", kv.Key, err)
				}
				b.Version = kv.ModRevision
				bindings = append(bindings, b)
			}
			old := userUniques(u)
			w, err := fn(u, bindings)
			if err != nil {
				return mutation{}, err
			}
			if u.ID != id {
				return mutation{}, errors.New("a user's id cannot change")
			}
			if strings.TrimSpace(u.UserName) == "" {
				return mutation{}, errors.New("a user needs a userName")
			}
			data, err := json.Marshal(u)
			if err != nil {
				return mutation{}, err
			}
			result = u
			// No binding may appear between our read and the write:
			// the outbox entries in w were computed from this list.
			guard := clientv3.Compare(clientv3.ModRevision(bp), "<", reads.Header.Revision+1).WithRange(prefixEnd(bp))
			return mutation{data: data, old: old, next: userUniques(u), cmps: []clientv3.Cmp{guard}, w: w}, nil
		})
	if err != nil {
		return nil, err
	}
	result.Version = rev
	return result, nil
}

// maxMembershipOps is how many memberships DeleteUser removes in its own
// transaction; beyond it, memberships are removed first, group by group.
const maxMembershipOps = 96

// DeleteUser removes a user, its unique keys and its memberships. Its
// bindings and outbox entries stay for the connectors, which disable the
// external accounts.
func (s *Etcd) DeleteUser(ctx context.Context, id string, ifVersion int64, w Write) error {
	groups, err := s.GroupsOf(ctx, id)
	if err != nil {
		return err
	}
	if len(groups) > maxMembershipOps {
		for _, g := range groups {
			if err := s.RemoveMembers(ctx, g, []string{id}, Write{}); err != nil {
				return err
			}
		}
		groups = nil
	}
	_, err = s.deleteRecord(ctx, kindUser, s.userKey(id), id, ifVersion,
		func(cur []byte) ([]unique, error) {
			u := new(User)
			if err := json.Unmarshal(cur, u); err != nil {
				return nil, err
			}
			return userUniques(u), nil
		},
		func() []clientv3.Op {
			ops := make([]clientv3.Op, 0, len(groups))
			for _, g := range groups {
				ops = append(ops, clientv3.OpDelete(s.memberKeyOf(g, id)))
			}
			return ops
		}, w)
	return err
}

// GetUser returns the user with id.
func (s *Etcd) GetUser(ctx context.Context, id string) (*User, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if u := x.users[id]; u != nil {
		return u.Clone(), nil
	}
	return nil, &NotFoundError{Kind: kindUser, Key: id}
}

// LookupUser finds a user by a unique attribute. userName and email are
// matched case-insensitively, externalId exactly.
func (s *Etcd) LookupUser(ctx context.Context, by LookupField, value string) (*User, error) {
	x, err := s.view()
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	var u *User
	switch by {
	case ByUserName:
		u = x.userByName[strings.ToLower(value)]
	case ByEmail:
		u = x.userByEmail[strings.ToLower(value)]
	case ByExternalID:
		u = x.userByExt[value]
	case ByUIDNumber:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, &NotFoundError{Kind: kindUser, Key: value}
		}
		u = x.userByUID[n]
	default:
		return nil, fmt.Errorf("users cannot be looked up by field %d", by)
	}
	if u == nil {
		return nil, &NotFoundError{Kind: kindUser, Key: value}
	}
	return u.Clone(), nil
}

// ListUsers pages through users ordered by lowercased userName.
func (s *Etcd) ListUsers(ctx context.Context, opts ListOptions) (Page[*User], error) {
	x, err := s.view()
	if err != nil {
		return Page[*User]{}, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return page(x.userOrder, opts, func(id string) (*User, bool) {
		u := x.users[id]
		if u == nil {
			return nil, false
		}
		return u.Clone(), true
	}), nil
}

// EachUser visits users in userName order after the cursor.
func (s *Etcd) EachUser(ctx context.Context, after string, fn func(*User) bool) error {
	x, err := s.view()
	if err != nil {
		return err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	visit := func(it nameItem) bool {
		if u := x.users[it.id]; u != nil {
			return fn(u)
		}
		return true
	}
	if after == "" {
		x.userOrder.Ascend(visit)
	} else {
		x.userOrder.AscendGreaterOrEqual(nameItem{name: strings.ToLower(after) + "\x00"}, visit)
	}
	return ctx.Err()
}
