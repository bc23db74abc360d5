// Package authoritytest gives tests an Authority on a real store: an
// embedded etcd in a temporary directory, a fresh sealing key, and a cheap
// password hasher so that tests creating users stay fast.
package authoritytest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/password"
	"github.com/headwater/headwater/authority/seal"
	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/etcdtest"
)

// FastHasher hashes with argon2id at minimal cost: tests are not an attack.
var FastHasher = password.Hasher{Params: password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}

// New returns an Authority and its store, stopped when the test ends. cfg
// may adjust the configuration (limiter, clock, admin token) before the
// Authority is made; Store, Keyring and Hasher are already set.
func New(t testing.TB, cfg func(*authority.Config)) (*authority.Authority, *store.Etcd) {
	t.Helper()
	srv := etcdtest.Embedded(t)
	st := store.Open(etcdtest.Client(t, srv.Endpoint()), store.Options{})
	t.Cleanup(func() { st.Close() })
	if err := st.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, _, err := seal.LoadOrCreate(filepath.Join(t.TempDir(), "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := authority.Config{Store: st, Keyring: keys, Hasher: FastHasher}
	if cfg != nil {
		cfg(&c)
	}
	return authority.New(c), st
}
