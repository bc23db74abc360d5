package store

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// Lock takes the named lock, held through an etcd session (a lease kept
// alive by this process): if the process dies, the lease expires after
// ttlSeconds and another replica takes over. It blocks until the lock is
// held or ctx ends. The returned context ends when the lock is lost (the
// session expired, say after a network partition), so the holder stops
// work it no longer owns; unlock releases it.
func (s *Etcd) Lock(ctx context.Context, name string, ttlSeconds int) (held context.Context, unlock func(), err error) {
	if ttlSeconds <= 0 {
		ttlSeconds = 10
	}
	sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(ttlSeconds), concurrency.WithContext(ctx))
	if err != nil {
		return nil, nil, s.mapErr(err)
	}
	m := concurrency.NewMutex(sess, s.prefix+"locks/"+name)
	if err := m.Lock(ctx); err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("taking lock %s: %w", name, s.mapErr(err))
	}
	hctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-sess.Done():
		case <-hctx.Done():
		}
		cancel()
	}()
	return hctx, func() {
		cancel()
		m.Unlock(context.WithoutCancel(ctx))
		sess.Close()
	}, nil
}
