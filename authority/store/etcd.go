package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Options configure an Etcd store.
type Options struct {
	// Prefix is the key prefix of every record; default "/headwater/".
	Prefix string
	// RequestTimeout bounds each etcd request; default 5s.
	RequestTimeout time.Duration
	// FirstIDNumber is the first uidNumber/gidNumber allocated; default 10000.
	FirstIDNumber int64
	Logger        *slog.Logger
	Now           func() time.Time
}

// Etcd is the Store on etcd, embedded or external.
type Etcd struct {
	cli       *clientv3.Client
	prefix    string
	timeout   time.Duration
	log       *slog.Logger
	now       func() time.Time
	firstID   int64
	idx       atomic.Pointer[index]
	revs      *revisions
	ready     chan struct{}
	readyOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
	ids       idBlock

	leaseMu sync.Mutex
	leases  map[int64]sharedLease // by TTL in seconds
}

var _ Store = (*Etcd)(nil)

// Open starts loading the index in the background and returns at once;
// reads fail with ErrNotReady until WaitReady returns. The client stays the
// caller's to close, after Close.
func Open(cli *clientv3.Client, opts Options) *Etcd {
	if opts.Prefix == "" {
		opts.Prefix = "/headwater/"
	}
	if !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.FirstIDNumber <= 0 {
		opts.FirstIDNumber = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Etcd{
		cli:     cli,
		prefix:  opts.Prefix,
		timeout: opts.RequestTimeout,
		log:     opts.Logger,
		now:     opts.Now,
		firstID: opts.FirstIDNumber,
		revs:    newRevisions(),
		ready:   make(chan struct{}),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// Close stops the watch. It does not close the etcd client.
func (s *Etcd) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// Ready reports whether the index has been loaded.
func (s *Etcd) Ready() bool { return s.idx.Load() != nil }

// WaitReady blocks until the index is loaded or ctx ends.
func (s *Etcd) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the index to load: %w", ctx.Err())
	}
}

// Revision is the etcd revision the index has applied.
func (s *Etcd) Revision() int64 { return s.revs.current() }

// Counts returns the number of users and groups in the index.
func (s *Etcd) Counts() (users, groups int) {
	x := s.idx.Load()
	if x == nil {
		return 0, 0
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.users), len(x.groups)
}

// Health checks that etcd answers within the request timeout and has no
// alarm raised (NOSPACE means every write will fail until space is freed).
func (s *Etcd) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.cli.Get(ctx, s.prefix+"health", clientv3.WithCountOnly()); err != nil {
		return s.mapErr(err)
	}
	alarms, err := s.cli.AlarmList(ctx)
	if err != nil {
		return s.mapErr(err)
	}
	for _, a := range alarms.Alarms {
		switch a.Alarm {
		case etcdserverpb.AlarmType_NOSPACE:
			return fmt.Errorf("%w: etcd raised the NOSPACE alarm (member %x): its space quota is exhausted; compact and defragment etcd or raise its quota, then disarm the alarm", ErrUnavailable, a.MemberID)
		case etcdserverpb.AlarmType_CORRUPT:
			return fmt.Errorf("%w: etcd raised the CORRUPT alarm (member %x)", ErrUnavailable, a.MemberID)
		}
	}
	return nil
}

// view returns the loaded index or ErrNotReady.
func (s *Etcd) view() (*index, error) {
	x := s.idx.Load()
	if x == nil {
		return nil, ErrNotReady
	}
	return x, nil
}

// mapErr turns etcd client errors into ErrUnavailable with words an
// operator can act on.
func (s *Etcd) mapErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, rpctypes.ErrNoSpace), errors.Is(err, rpctypes.ErrGRPCNoSpace):
		return fmt.Errorf("%w: etcd's space quota is exhausted (NOSPACE): compact and defragment etcd or raise its quota: %v", ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: etcd did not answer within %s: %v", ErrUnavailable, s.timeout, err)
	case errors.Is(err, context.Canceled):
		return err
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return fmt.Errorf("etcd: %w", err)
}

func (s *Etcd) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// commit runs a transaction and, when it succeeded, waits until the index
// has applied it so that the caller's next read sees its own write.
func (s *Etcd) commit(ctx context.Context, cmps []clientv3.Cmp, ops []clientv3.Op, elseOps ...clientv3.Op) (*clientv3.TxnResponse, error) {
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).If(cmps...).Then(ops...).Else(elseOps...).Commit()
	if err != nil {
		return nil, s.mapErr(err)
	}
	if resp.Succeeded {
		s.awaitIndex(ctx, resp.Header.Revision)
	}
	return resp, nil
}

// awaitIndex waits for the watch to deliver rev. The write has committed
// either way, so a slow watch only costs read-your-writes, not the write.
func (s *Etcd) awaitIndex(ctx context.Context, rev int64) {
	wctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := s.revs.wait(wctx, rev); err != nil {
		s.log.Warn("index lags behind a committed write", "revision", rev, "err", err)
	}
}

// writeOps turns a Write into transaction operations.
func (s *Etcd) writeOps(w Write) ([]clientv3.Op, error) {
	var ops []clientv3.Op
	if w.Audit != nil {
		op, err := s.auditOp(w.Audit)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	for _, b := range w.Bindings {
		if b.UserID == "" || b.Directory == "" || strings.Contains(b.Directory, "/") {
			return nil, errors.New("a binding needs a user id and a directory name without '/'")
		}
		if b.Created.IsZero() {
			b.Created = s.now().UTC()
		}
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(s.bindingsPrefix(b.UserID)+b.Directory, string(data)))
	}
	for _, e := range w.Outbox {
		if e.Directory == "" || e.UserID == "" || e.Kind == "" {
			return nil, errors.New("outbox entry needs a directory, a user and a kind")
		}
		if e.Created.IsZero() {
			e.Created = s.now().UTC()
		}
		data, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(s.outboxKey(e.Directory, e.UserID, e.Kind), string(data)))
	}
	return ops, nil
}

func (s *Etcd) auditOp(ev *AuditEvent) (clientv3.Op, error) {
	if ev.Time.IsZero() {
		ev.Time = s.now().UTC()
	}
	if ev.ID == "" {
		ev.ID = auditID(ev.Time, randomHex(4))
	}
	day, err := auditDay(ev.ID)
	if err != nil {
		return clientv3.Op{}, err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return clientv3.Op{}, err
	}
	return clientv3.OpPut(s.key(colAudit, day, "/", ev.ID), string(data)), nil
}

func (s *Etcd) outboxKey(dir, userID, kind string) string {
	return s.key(colOutbox, dir, "/", userID, "/", kind)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

func notExists(key string) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
}

func exists(key string) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(key), ">", 0)
}

// conflictOn finds which of the unique keys is held by another record.
// It returns nil when all are free or held by id itself (a retried write
// that had in fact committed).
func (s *Etcd) conflictOn(ctx context.Context, kind, id string, us []unique) (*ConflictError, error) {
	if len(us) == 0 {
		return nil, nil
	}
	ops := make([]clientv3.Op, len(us))
	for i, u := range us {
		ops[i] = clientv3.OpGet(s.uniqueKey(kind, u))
	}
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	resp, err := s.cli.Txn(tctx).Then(ops...).Commit()
	if err != nil {
		return nil, s.mapErr(err)
	}
	for i, r := range resp.Responses {
		kvs := r.GetResponseRange().Kvs
		if len(kvs) > 0 && string(kvs[0].Value) != id {
			return &ConflictError{Kind: kind, Field: us[i].field, Value: us[i].value}, nil
		}
	}
	return nil, nil
}

// maxAttempts bounds optimistic retries when concurrent writers keep
// changing a record under us.
const maxAttempts = 16

var errContention = fmt.Errorf("%w: the record kept changing during %d attempts; try again", ErrUnavailable, maxAttempts)

// recordOps builds the common part of writing a record whose unique
// constraints changed from old to next.
func (s *Etcd) recordOps(kind, key, id string, data []byte, old, next []unique) (cmps []clientv3.Cmp, ops []clientv3.Op, added []unique) {
	added = diffUniques(old, next)
	removed := diffUniques(next, old)
	ops = append(ops, clientv3.OpPut(key, string(data)))
	for _, u := range added {
		k := s.uniqueKey(kind, u)
		cmps = append(cmps, notExists(k))
		ops = append(ops, clientv3.OpPut(k, id))
	}
	for _, u := range removed {
		ops = append(ops, clientv3.OpDelete(s.uniqueKey(kind, u)))
	}
	return cmps, ops, added
}

// createRecord writes a new record with its unique keys. A retry of a
// create that had committed (same id) succeeds and returns its revision.
func (s *Etcd) createRecord(ctx context.Context, kind, key, id string, rec any, us []unique, extraCmps []clientv3.Cmp, extraOps []clientv3.Op, w Write) (int64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encoding %s: %w", kind, err)
	}
	cmps, ops, _ := s.recordOps(kind, key, id, data, nil, us)
	cmps = append(append([]clientv3.Cmp{notExists(key)}, cmps...), extraCmps...)
	wops, err := s.writeOps(w)
	if err != nil {
		return 0, err
	}
	ops = append(append(ops, extraOps...), wops...)
	resp, err := s.commit(ctx, cmps, ops, clientv3.OpGet(key))
	if err != nil {
		return 0, err
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		if ce, _ := s.conflictOn(ctx, kind, id, us); ce == nil {
			// The record exists with our id and its unique keys: an
			// earlier attempt of this very create committed.
			return kvs[0].ModRevision, nil
		}
		return 0, &ConflictError{Kind: kind, Field: "id", Value: id}
	}
	ce, err := s.conflictOn(ctx, kind, id, us)
	if err != nil {
		return 0, err
	}
	if ce != nil {
		return 0, ce
	}
	return 0, errMissingReference
}

// errMissingReference is returned when a create's extra comparisons (a
// referenced record must exist) failed.
var errMissingReference = errors.New("a record this one refers to does not exist")

// readRecord fetches a record straight from etcd (not the index), for
// read-modify-write cycles.
func (s *Etcd) readRecord(ctx context.Context, key string, extra ...clientv3.Op) (*clientv3.TxnResponse, error) {
	tctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ops := append([]clientv3.Op{clientv3.OpGet(key)}, extra...)
	resp, err := s.cli.Txn(tctx).Then(ops...).Commit()
	if err != nil {
		return nil, s.mapErr(err)
	}
	return resp, nil
}

// updateRecord runs the optimistic read-modify-write loop shared by every
// record kind. mutate gets the stored bytes and the read's responses and
// returns the new bytes, the old and new unique sets, extra comparisons and
// operations, and the Write.
type mutation struct {
	data      []byte
	old, next []unique
	cmps      []clientv3.Cmp
	ops       []clientv3.Op
	w         Write
}

func (s *Etcd) updateRecord(ctx context.Context, kind, key, id string, ifVersion int64, extraReads []clientv3.Op,
	mutate func(cur []byte, reads *clientv3.TxnResponse) (mutation, error)) (int64, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		resp, err := s.readRecord(ctx, key, extraReads...)
		if err != nil {
			return 0, err
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return 0, &NotFoundError{Kind: kind, Key: id}
		}
		cur := kvs[0]
		if ifVersion != 0 && cur.ModRevision != ifVersion {
			return 0, &PreconditionError{Kind: kind, ID: id, Want: ifVersion, Current: cur.ModRevision}
		}
		m, err := mutate(cur.Value, resp)
		if err != nil {
			return 0, err
		}
		cmps, ops, added := s.recordOps(kind, key, id, m.data, m.old, m.next)
		cmps = append(append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.ModRevision)}, cmps...), m.cmps...)
		wops, err := s.writeOps(m.w)
		if err != nil {
			return 0, err
		}
		ops = append(append(ops, m.ops...), wops...)
		tresp, err := s.commit(ctx, cmps, ops)
		if err != nil {
			return 0, err
		}
		if tresp.Succeeded {
			return tresp.Header.Revision, nil
		}
		ce, err := s.conflictOn(ctx, kind, id, added)
		if err != nil {
			return 0, err
		}
		if ce != nil {
			return 0, ce
		}
		// The record or a guarded range changed meanwhile: read again.
	}
	return 0, errContention
}

// deleteRecord removes a record and its unique keys if it is at ifVersion.
func (s *Etcd) deleteRecord(ctx context.Context, kind, key, id string, ifVersion int64, uniques func([]byte) ([]unique, error), extraOps func() []clientv3.Op, w Write) (int64, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		resp, err := s.readRecord(ctx, key)
		if err != nil {
			return 0, err
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return 0, &NotFoundError{Kind: kind, Key: id}
		}
		cur := kvs[0]
		if ifVersion != 0 && cur.ModRevision != ifVersion {
			return 0, &PreconditionError{Kind: kind, ID: id, Want: ifVersion, Current: cur.ModRevision}
		}
		us, err := uniques(cur.Value)
		if err != nil {
			return 0, fmt.Errorf("decoding %s %s: %w", kind, id, err)
		}
		ops := []clientv3.Op{clientv3.OpDelete(key)}
		for _, u := range us {
			ops = append(ops, clientv3.OpDelete(s.uniqueKey(kind, u)))
		}
		if extraOps != nil {
			ops = append(ops, extraOps()...)
		}
		wops, err := s.writeOps(w)
		if err != nil {
			return 0, err
		}
		ops = append(ops, wops...)
		tresp, err := s.commit(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", cur.ModRevision)}, ops)
		if err != nil {
			return 0, err
		}
		if tresp.Succeeded {
			return tresp.Header.Revision, nil
		}
	}
	return 0, errContention
}
