package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/etcdtest"
	"github.com/headwater/headwater/authority/store/storetest"
)

// backend opens stores on one etcd endpoint under a prefix of its own.
type backend struct {
	endpoint string
	prefix   string
}

var prefixes atomic.Int64

func newBackend(endpoint string) *backend {
	return &backend{endpoint: endpoint, prefix: fmt.Sprintf("/hwtest%d/", prefixes.Add(1))}
}

func (b *backend) Open(t *testing.T) store.Store {
	cli := etcdtest.Client(t, b.endpoint)
	s := store.Open(cli, store.Options{Prefix: b.prefix})
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func verifyClean(t *testing.T, b *backend) {
	t.Helper()
	s := store.Open(etcdtest.Client(t, b.endpoint), store.Options{Prefix: b.prefix})
	defer s.Close()
	problems, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("inconsistency: %s: %s", p.Key, p.Reason)
	}
}

func TestConformanceEmbedded(t *testing.T) {
	srv := etcdtest.Embedded(t)
	b := newBackend(srv.Endpoint())
	storetest.Run(t, b)
	verifyClean(t, b)
}

func TestConformanceExternal(t *testing.T) {
	ext := etcdtest.StartExternal(t)
	b := newBackend(ext.Endpoint)
	storetest.Run(t, b)
	verifyClean(t, b)
}

// TestReloadAfterCompaction compacts etcd past the index's revision while
// its watch is down; the store must notice and reload, not serve stale data.
func TestReloadAfterCompaction(t *testing.T) {
	ext := etcdtest.StartExternal(t)
	b := newBackend(ext.Endpoint)
	s := b.Open(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, &store.User{UserName: "before"}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	ext.Stop()
	if err := ext.Restart(); err != nil {
		t.Fatal(err)
	}
	// Writes from another client while the first store's watch reconnects,
	// then a compaction past them.
	other := store.Open(etcdtest.Client(t, ext.Endpoint), store.Options{Prefix: b.prefix})
	defer other.Close()
	if err := other.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.UpdateUser(ctx, u.ID, 0, func(x *store.User, _ []store.Binding) (store.Write, error) {
		x.Title = "after"
		return store.Write{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	cli := etcdtest.Client(t, ext.Endpoint)
	resp, err := cli.Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := s.GetUser(ctx, u.ID)
		if err == nil && got.Title == "after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after etcd restart and compaction: %+v %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUnavailable checks that writes fail with ErrUnavailable while etcd is
// down, reads keep working from the index, and everything recovers when
// etcd returns, without reopening the store.
func TestUnavailable(t *testing.T) {
	ext := etcdtest.StartExternal(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ext.Endpoint}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	s := store.Open(cli, store.Options{Prefix: "/unavail/", RequestTimeout: time.Second})
	defer s.Close()
	ctx := context.Background()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, &store.User{UserName: "kept"}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	ext.Stop()
	_, err = s.CreateUser(ctx, &store.User{UserName: "lost"}, store.Write{})
	if err == nil || !isUnavailable(err) {
		t.Fatalf("write with etcd down: %v, want ErrUnavailable", err)
	}
	if err := s.Health(ctx); !isUnavailable(err) {
		t.Fatalf("Health with etcd down: %v", err)
	}
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("reads must keep working from the index: %v", err)
	}
	if err := ext.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.CreateUser(ctx, &store.User{UserName: "back"}, store.Write{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func isUnavailable(err error) bool { return err != nil && errorsIs(err, store.ErrUnavailable) }
