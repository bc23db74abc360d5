package embedded_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/authority/store/embedded"
)

// TestNoSpaceIsReported fills a tiny embedded etcd until its quota trips:
// writes must then fail with ErrUnavailable naming the quota, Health must
// report the NOSPACE alarm, and reads keep working.
func TestNoSpaceIsReported(t *testing.T) {
	dir, err := os.MkdirTemp("", "hw-nospace-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{Dir: dir, QuotaBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := srv.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := store.Open(cli, store.Options{})
	defer st.Close()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := st.CreateUser(ctx, &store.User{UserName: "first", Title: strings.Repeat("x", 512)}, store.Write{})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 100000 && werr == nil; i++ {
		_, werr = st.UpdateUser(ctx, first.ID, 0, func(u *store.User, _ []store.Binding) (store.Write, error) {
			u.Title = strings.Repeat(string(rune('a'+i%26)), 64<<10)
			return store.Write{}, nil
		})
	}
	if !errors.Is(werr, store.ErrUnavailable) || !strings.Contains(werr.Error(), "NOSPACE") {
		t.Fatalf("write past the quota: %v", werr)
	}
	herr := st.Health(ctx)
	if !errors.Is(herr, store.ErrUnavailable) || !strings.Contains(herr.Error(), "NOSPACE") {
		t.Fatalf("Health past the quota: %v", herr)
	}
	if _, err := st.GetUser(ctx, first.ID); err != nil {
		t.Fatalf("reads must keep working: %v", err)
	}
}

// TestRestartAfterCrashLeftSockets starts a data directory whose socket
// files were left behind by a killed process.
func TestRestartAfterCrashLeftSockets(t *testing.T) {
	dir, err := os.MkdirTemp("", "hw-sock-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, f := range []string{"etcd-client.sock", "etcd-peer.sock"} {
		os.WriteFile(dir+"/"+f, nil, 0o600)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %v, want 0700 (%v)", info.Mode().Perm(), err)
	}
}

func TestLongDataDirRefused(t *testing.T) {
	_, err := embedded.Start(context.Background(), embedded.Config{Dir: "/tmp/" + strings.Repeat("d", 120)})
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("got %v", err)
	}
}
