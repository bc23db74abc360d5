package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Objects are small records the in-memory index does not hold, read by key
// straight from etcd: browser sessions, pending logins, one-time tokens,
// SAML service providers and the IdP's signing keys. A TTL attaches an etcd
// lease, so an expired object disappears on every replica at once.
//
// Keys live under objects/<kind>/<key>; kind and key must not be empty and
// kind must not contain '/'.

// Object is one stored object.
type Object struct {
	Key     string
	Value   []byte
	Version int64 // etcd ModRevision
}

func (s *Etcd) objectKey(kind, key string) (string, error) {
	if kind == "" || key == "" || strings.Contains(kind, "/") {
		return "", fmt.Errorf("object kind %q / key %q: both must be set and the kind has no '/'", kind, key)
	}
	return s.prefix + colObjects + kind + "/" + key, nil
}

// leaseOpt attaches a lease that outlives ttl by at most half of it. Leases
// are shared: one is granted with 1.5 × ttl and reused while at least ttl
// of it remains, so a busy server grants a lease per ttl/2 instead of one
// per object (each grant is a raft round of its own). Readers that need the
// exact expiry keep it in the value (sessions do).
func (s *Etcd) leaseOpt(ctx context.Context, ttl time.Duration) ([]clientv3.OpOption, error) {
	if ttl <= 0 {
		return nil, nil
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	now := time.Now()
	s.leaseMu.Lock()
	if l, ok := s.leases[secs]; ok && l.expires.Sub(now) >= time.Duration(secs)*time.Second {
		s.leaseMu.Unlock()
		return []clientv3.OpOption{clientv3.WithLease(l.id)}, nil
	}
	s.leaseMu.Unlock()
	grant := secs + (secs+1)/2
	l, err := s.cli.Grant(ctx, grant)
	if err != nil {
		return nil, s.mapErr(err)
	}
	s.leaseMu.Lock()
	if s.leases == nil {
		s.leases = map[int64]sharedLease{}
	}
	s.leases[secs] = sharedLease{id: l.ID, expires: now.Add(time.Duration(grant) * time.Second)}
	s.leaseMu.Unlock()
	return []clientv3.OpOption{clientv3.WithLease(l.ID)}, nil
}

// withLease runs op with a shared lease for ttl; if etcd no longer knows
// the lease (revoked, or expired early), it forgets it and tries once more
// with a fresh one.
func (s *Etcd) withLease(ctx context.Context, ttl time.Duration, op func(opts []clientv3.OpOption) error) error {
	for attempt := 0; ; attempt++ {
		opts, err := s.leaseOpt(ctx, ttl)
		if err != nil {
			return err
		}
		err = op(opts)
		if attempt == 0 && err != nil && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.leaseMu.Lock()
			delete(s.leases, int64((ttl+time.Second-1)/time.Second))
			s.leaseMu.Unlock()
			continue
		}
		return err
	}
}

// sharedLease is a lease reused by objects of one TTL.
type sharedLease struct {
	id      clientv3.LeaseID
	expires time.Time
}

// PutObject writes an object, replacing any current value; ttl > 0 makes it
// expire after ttl.
func (s *Etcd) PutObject(ctx context.Context, kind, key string, value []byte, ttl time.Duration) error {
	k, err := s.objectKey(kind, key)
	if err != nil {
		return err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	err = s.withLease(ctx, ttl, func(opts []clientv3.OpOption) error {
		_, err := s.cli.Put(ctx, k, string(value), opts...)
		return err
	})
	return s.mapErr(err)
}

// CreateObject writes an object only if none exists under key; otherwise
// it fails with a *ConflictError. It is how a value is claimed once (a SAML
// request ID, say) across replicas.
func (s *Etcd) CreateObject(ctx context.Context, kind, key string, value []byte, ttl time.Duration) error {
	k, err := s.objectKey(kind, key)
	if err != nil {
		return err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var r *clientv3.TxnResponse
	err = s.withLease(ctx, ttl, func(opts []clientv3.OpOption) error {
		var err error
		r, err = s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, string(value), opts...)).Commit()
		return err
	})
	if err != nil {
		return s.mapErr(err)
	}
	if !r.Succeeded {
		return &ConflictError{Kind: kind, Field: "key", Value: key}
	}
	return nil
}

// GetObject reads an object; a missing or expired one is a *NotFoundError.
func (s *Etcd) GetObject(ctx context.Context, kind, key string) (*Object, error) {
	k, err := s.objectKey(kind, key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	r, err := s.cli.Get(ctx, k)
	if err != nil {
		return nil, s.mapErr(err)
	}
	if len(r.Kvs) == 0 {
		return nil, &NotFoundError{Kind: kind, Key: key}
	}
	return &Object{Key: key, Value: r.Kvs[0].Value, Version: r.Kvs[0].ModRevision}, nil
}

// TakeObject reads and deletes an object in one transaction: of several
// concurrent takers, exactly one gets it (single-use links and codes).
func (s *Etcd) TakeObject(ctx context.Context, kind, key string) (*Object, error) {
	k, err := s.objectKey(kind, key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), ">", 0)).
		Then(clientv3.OpGet(k), clientv3.OpDelete(k)).Commit()
	if err != nil {
		return nil, s.mapErr(err)
	}
	if !r.Succeeded {
		return nil, &NotFoundError{Kind: kind, Key: key}
	}
	got := r.Responses[0].GetResponseRange()
	if got == nil || len(got.Kvs) == 0 || r.Responses[1].GetResponseDeleteRange().GetDeleted() != 1 {
		return nil, &NotFoundError{Kind: kind, Key: key}
	}
	return &Object{Key: key, Value: got.Kvs[0].Value, Version: got.Kvs[0].ModRevision}, nil
}

// DeleteObject removes an object; removing a missing one is not an error.
func (s *Etcd) DeleteObject(ctx context.Context, kind, key string) error {
	k, err := s.objectKey(kind, key)
	if err != nil {
		return err
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if _, err := s.cli.Delete(ctx, k); err != nil {
		return s.mapErr(err)
	}
	return nil
}

// DeleteObjects removes every object of kind whose key starts with prefix
// and returns how many there were.
func (s *Etcd) DeleteObjects(ctx context.Context, kind, prefix string) (int64, error) {
	k, err := s.objectKey(kind, "x")
	if err != nil {
		return 0, err
	}
	k = k[:len(k)-1] + prefix
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	r, err := s.cli.Delete(ctx, k, clientv3.WithRange(prefixEnd(k)))
	if err != nil {
		return 0, s.mapErr(err)
	}
	return r.Deleted, nil
}

// ListObjects returns the objects of kind whose key starts with prefix, in
// key order, at most limit of them (0: 1000).
func (s *Etcd) ListObjects(ctx context.Context, kind, prefix string, limit int) ([]Object, error) {
	k, err := s.objectKey(kind, "x")
	if err != nil {
		return nil, err
	}
	base := k[:len(k)-1]
	k = base + prefix
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	r, err := s.cli.Get(ctx, k, clientv3.WithRange(prefixEnd(k)), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, s.mapErr(err)
	}
	out := make([]Object, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		out = append(out, Object{Key: strings.TrimPrefix(string(kv.Key), base), Value: kv.Value, Version: kv.ModRevision})
	}
	return out, nil
}
