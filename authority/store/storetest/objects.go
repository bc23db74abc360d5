package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store"
)

func testObjects(t *testing.T, b Backend) {
	s := b.Open(t)
	c := ctx(t)
	kind := uniq("kind")
	if _, err := s.GetObject(c, kind, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of nothing: %v", err)
	}
	if err := s.CreateObject(c, kind, "a", []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateObject(c, kind, "a", []byte("two"), time.Minute); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create: %v, want conflict", err)
	}
	o, err := s.GetObject(c, kind, "a")
	if err != nil || string(o.Value) != "one" || o.Version == 0 {
		t.Fatalf("get: %+v %v", o, err)
	}
	if err := s.PutObject(c, kind, "a", []byte("three"), 0); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.GetObject(c, kind, "a"); string(o.Value) != "three" {
		t.Fatalf("after put: %q", o.Value)
	}
	for i := 0; i < 5; i++ {
		if err := s.PutObject(c, kind, fmt.Sprintf("u1/%d", i), []byte{byte(i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	s.PutObject(c, kind, "u2/0", nil, 0)
	list, err := s.ListObjects(c, kind, "u1/", 0)
	if err != nil || len(list) != 5 || list[0].Key != "u1/0" || list[4].Key != "u1/4" {
		t.Fatalf("list: %+v %v", list, err)
	}
	n, err := s.DeleteObjects(c, kind, "u1/")
	if err != nil || n != 5 {
		t.Fatalf("delete prefix: %d %v", n, err)
	}
	if list, _ := s.ListObjects(c, kind, "", 0); len(list) != 2 {
		t.Fatalf("left after prefix delete: %+v", list)
	}
	if err := s.DeleteObject(c, kind, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(c, kind, "a"); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
	if err := s.PutObject(c, "bad/kind", "x", nil, 0); err == nil {
		t.Fatal("a kind with '/' was accepted")
	}
}

// testObjectTakenOnce: of many concurrent takers of one object, exactly one
// gets it.
func testObjectTakenOnce(t *testing.T, b Backend) {
	s := b.Open(t)
	c := ctx(t)
	kind := uniq("once")
	for round := 0; round < 5; round++ {
		key := fmt.Sprint(round)
		if err := s.CreateObject(c, kind, key, []byte("secret"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var got atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := s.TakeObject(c, kind, key)
				switch {
				case err == nil && string(o.Value) == "secret":
					got.Add(1)
				case errors.Is(err, store.ErrNotFound):
				default:
					t.Errorf("take: %v", err)
				}
			}()
		}
		wg.Wait()
		if got.Load() != 1 {
			t.Fatalf("round %d: %d takers got the object", round, got.Load())
		}
	}
}

// testObjectExpires: an object with a TTL is gone after it.
func testObjectExpires(t *testing.T, b Backend) {
	s := b.Open(t)
	c := ctx(t)
	kind := uniq("ttl")
	if err := s.PutObject(c, kind, "k", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetObject(c, kind, "k"); err != nil {
		t.Fatalf("fresh object: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.GetObject(c, kind, "k")
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("object with a 1 s TTL still there after 10 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
