package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
)

var errCompacted = errors.New("watch revision compacted")

// run keeps the index current: load a snapshot, then follow the watch from
// the snapshot's revision. When etcd has compacted the revision the watch
// needs, it loads a fresh snapshot; readers keep the old index meanwhile.
func (s *Etcd) run(ctx context.Context) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		x, err := s.load(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("loading the index failed; retrying", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		users, groups := len(x.users), len(x.groups)
		s.idx.Store(x)
		s.revs.advance(x.rev)
		s.readyOnce.Do(func() { close(s.ready) })
		s.log.Info("index loaded", "users", users, "groups", groups, "revision", x.rev, "took", time.Since(start).Round(time.Millisecond))
		for ctx.Err() == nil {
			err := s.follow(ctx, x)
			if errors.Is(err, errCompacted) {
				s.log.Warn("index revision was compacted; reloading", "revision", x.rev)
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("watch interrupted; resuming", "err", err, "revision", x.rev)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// loadCollections are the collections the index holds.
var loadCollections = []string{colUsers, colGroups, colServiceAccounts, colTokens, colMembers}

// smallCollection is the size up to which a collection is read in one
// range. Larger ones are read in 256 key ranges: etcd counts the whole rest
// of a range on every limited request, so paging a large range is
// quadratic, while 256 unlimited sub-ranges each cost only their own size.
const smallCollection = 20000

func (s *Etcd) load(ctx context.Context) (*index, error) {
	head, err := s.cli.Get(ctx, s.prefix, clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return nil, fmt.Errorf("reading etcd revision: %w", s.mapErr(err))
	}
	rev := head.Header.Revision

	type chunk struct {
		col string
		kvs []*mvccpb.KeyValue
	}
	type span struct{ col, from, to string }
	var spans []span
	counts := map[string]int64{}
	for _, col := range loadCollections {
		p := s.prefix + col
		n, err := s.cli.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithRev(rev))
		if err != nil {
			return nil, s.loadErr(err)
		}
		counts[col] = n.Count
		if n.Count <= smallCollection {
			spans = append(spans, span{col, p, prefixEnd(p)})
			continue
		}
		from := p
		for i := 1; i < 256; i++ {
			to := fmt.Sprintf("%s%02x", p, i)
			spans = append(spans, span{col, from, to})
			from = to
		}
		spans = append(spans, span{col, from, prefixEnd(p)})
	}

	x := newIndexSized(int(counts[colUsers]), int(counts[colGroups]), int(counts[colMembers]))
	x.rev = rev

	// Fetch and decode in parallel; insert into the maps on this goroutine.
	decoded := make(chan func(*index), 8)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	go func() {
		for _, sp := range spans {
			g.Go(func() error {
				resp, err := s.cli.Get(gctx, sp.from, clientv3.WithRange(sp.to), clientv3.WithRev(rev))
				if err != nil {
					return s.loadErr(err)
				}
				apply, err := s.decodeChunk(sp.col, resp.Kvs)
				if err != nil {
					return err
				}
				select {
				case decoded <- apply:
				case <-gctx.Done():
				}
				return nil
			})
		}
		_ = g.Wait()
		close(decoded)
	}()
	for apply := range decoded {
		apply(x)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return x, nil
}

func (s *Etcd) loadErr(err error) error {
	if errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("snapshot revision compacted during load: %w", err)
	}
	return s.mapErr(err)
}

// decodeChunk decodes a range of one collection and returns a function
// that inserts it into an index.
func (s *Etcd) decodeChunk(col string, kvs []*mvccpb.KeyValue) (func(*index), error) {
	switch col {
	case colMembers:
		type pair struct{ g, u string }
		pairs := make([]pair, 0, len(kvs))
		for _, kv := range kvs {
			if g, u, ok := s.memberKey(string(kv.Key)); ok {
				pairs = append(pairs, pair{g, u})
			}
		}
		return func(x *index) {
			for _, p := range pairs {
				x.putMember(p.g, p.u)
			}
		}, nil
	default:
		var puts []func(*index)
		for _, kv := range kvs {
			put, err := s.decodeRecord(col, kv)
			if err != nil {
				s.log.Error("skipping undecodable record", "key", string(kv.Key), "err", err)
				continue
			}
			puts = append(puts, put)
		}
		return func(x *index) {
			for _, p := range puts {
				p(x)
			}
		}, nil
	}
}

// decodeRecord decodes one record of an indexed collection.
func (s *Etcd) decodeRecord(col string, kv *mvccpb.KeyValue) (func(*index), error) {
	switch col {
	case colUsers:
		u := new(User)
		if err := json.Unmarshal(kv.Value, u); err != nil {
			return nil, err
		}
		u.Version = kv.ModRevision
		internUser(u)
		return func(x *index) { x.putUser(u) }, nil
	case colGroups:
		g := new(Group)
		if err := json.Unmarshal(kv.Value, g); err != nil {
			return nil, err
		}
		g.Version = kv.ModRevision
		return func(x *index) { x.putGroup(g) }, nil
	case colServiceAccounts:
		sa := new(ServiceAccount)
		if err := json.Unmarshal(kv.Value, sa); err != nil {
			return nil, err
		}
		sa.Version = kv.ModRevision
		return func(x *index) { x.putServiceAccount(sa) }, nil
	case colTokens:
		t := new(Token)
		if err := json.Unmarshal(kv.Value, t); err != nil {
			return nil, err
		}
		t.Version = kv.ModRevision
		return func(x *index) { x.putToken(t) }, nil
	}
	return nil, fmt.Errorf("collection %q is not indexed", col)
}

// internUser shares the few distinct values most users repeat (states,
// roles, email types, shells), which saves memory at a million users.
func internUser(u *User) {
	u.State = State(intern(string(u.State)))
	u.LoginShell = intern(u.LoginShell)
	for i := range u.Emails {
		u.Emails[i].Type = intern(u.Emails[i].Type)
	}
	for i := range u.Roles {
		u.Roles[i] = intern(u.Roles[i])
	}
	if len(u.Roles) == 0 {
		u.Roles = nil
	}
}

var common = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{"", "staged", "active", "suspended", "work", "home", "other", "admin", "ldap-reader", "/bin/bash", "/bin/sh", "/usr/sbin/nologin"} {
		m[s] = s
	}
	return m
}()

func intern(s string) string {
	if v, ok := common[s]; ok {
		return v
	}
	return s
}

func (s *Etcd) memberKey(key string) (groupID, userID string, ok bool) {
	rest, ok := strings.CutPrefix(key, s.prefix+colMembers)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}

// follow applies watch events to x until the watch ends.
func (s *Etcd) follow(ctx context.Context, x *index) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(x.rev+1), clientv3.WithProgressNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
			return errCompacted
		}
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.IsProgressNotify() {
			s.revs.advance(resp.Header.Revision)
			continue
		}
		s.apply(x, resp.Events)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("watch channel closed (etcd leader lost or connection reset)")
}

// apply applies one watch response. Decoding happens before the lock is
// taken so readers are not held up by JSON.
func (s *Etcd) apply(x *index, events []*clientv3.Event) {
	type change struct {
		put func(*index)
		del func(*index)
	}
	changes := make([]change, 0, len(events))
	var rev int64
	for _, ev := range events {
		rev = ev.Kv.ModRevision
		key := string(ev.Kv.Key)
		rest := strings.TrimPrefix(key, s.prefix)
		col, id, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		col += "/"
		if ev.Type == clientv3.EventTypeDelete {
			switch col {
			case colUsers:
				changes = append(changes, change{del: func(x *index) { x.removeUser(id) }})
			case colGroups:
				changes = append(changes, change{del: func(x *index) { x.removeGroup(id) }})
			case colServiceAccounts:
				changes = append(changes, change{del: func(x *index) { x.removeServiceAccount(id) }})
			case colTokens:
				changes = append(changes, change{del: func(x *index) { x.removeToken(id) }})
			case colMembers:
				if g, u, ok := strings.Cut(id, "/"); ok {
					changes = append(changes, change{del: func(x *index) { x.removeMember(g, u) }})
				}
			}
			continue
		}
		switch col {
		case colUsers, colGroups, colServiceAccounts, colTokens:
			put, err := s.decodeRecord(col, ev.Kv)
			if err != nil {
				s.log.Error("skipping undecodable record", "key", key, "err", err)
				continue
			}
			changes = append(changes, change{put: put})
		case colMembers:
			if g, u, ok := strings.Cut(id, "/"); ok {
				changes = append(changes, change{put: func(x *index) { x.putMember(g, u) }})
			}
		}
	}
	x.mu.Lock()
	for _, c := range changes {
		if c.put != nil {
			c.put(x)
		} else {
			c.del(x)
		}
	}
	if rev > x.rev {
		x.rev = rev
	}
	x.mu.Unlock()
	s.revs.advance(rev)
}

// revisions lets writers wait until the index has applied their write, so
// that a read right after a write sees it.
type revisions struct {
	mu  sync.Mutex
	rev int64
	ch  chan struct{}
}

func newRevisions() *revisions { return &revisions{ch: make(chan struct{})} }

func (r *revisions) advance(rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev > r.rev {
		r.rev = rev
		close(r.ch)
		r.ch = make(chan struct{})
	}
}

func (r *revisions) wait(ctx context.Context, rev int64) error {
	for {
		r.mu.Lock()
		if r.rev >= rev {
			r.mu.Unlock()
			return nil
		}
		ch := r.ch
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (r *revisions) current() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rev
}
