// Package embedded runs etcd inside the Headwater process, reachable only
// through unix sockets in the data directory.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Config sizes the embedded etcd. Zero values take the defaults below.
type Config struct {
	// Dir is the Headwater data directory; etcd keeps its data in Dir/etcd.
	Dir string
	// QuotaBytes is etcd's backend quota. etcd's default of 2 GiB is about
	// what a million users with their index keys take, so the default here is
	// etcd's suggested maximum, 8 GiB.
	QuotaBytes int64
	// CompactionRetention is how much history auto-compaction keeps. Embed
	// turns compaction off by default, which grows the database forever.
	CompactionRetention time.Duration
	// DefragInterval is how often free pages are returned to the file
	// system; 0 disables.
	DefragInterval time.Duration
	SnapshotCount  uint64
	// MaxTxnOps raises etcd's 128-operation limit per transaction.
	MaxTxnOps uint
	Logger    *slog.Logger
}

// Defaults for Config.
const (
	DefaultQuotaBytes          = 8 << 30
	DefaultCompactionRetention = time.Hour
	DefaultDefragInterval      = 24 * time.Hour
	DefaultSnapshotCount       = 2500
	DefaultMaxTxnOps           = 1024
)

// maxSocketPath is the longest unix socket path the kernel accepts.
const maxSocketPath = 107

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	endpoint string
	cfg      Config
	log      *slog.Logger
	stop     context.CancelFunc
	done     chan struct{}
}

// Start starts etcd and waits until it serves. etcd listens on unix
// sockets beside its data (mode 0700 directory), not on TCP: nothing else
// on the machine can reach the store.
func Start(ctx context.Context, c Config) (*Server, error) {
	if c.Dir == "" {
		return nil, errors.New("embedded etcd needs a data directory")
	}
	if c.QuotaBytes == 0 {
		c.QuotaBytes = DefaultQuotaBytes
	}
	if c.CompactionRetention == 0 {
		c.CompactionRetention = DefaultCompactionRetention
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = DefaultSnapshotCount
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = DefaultMaxTxnOps
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", c.Dir, err)
	}
	clientSock := filepath.Join(dir, "etcd-client.sock")
	peerSock := filepath.Join(dir, "etcd-peer.sock")
	if len(clientSock) > maxSocketPath {
		return nil, fmt.Errorf("data directory path %q is too long for etcd's unix socket (at most %d characters with the socket name): choose a shorter dataDir", dir, maxSocketPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restricting data directory: %w", err)
	}
	// A crash leaves the socket files behind; etcd cannot bind over them.
	for _, p := range []string{clientSock, peerSock} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}

	cu := url.URL{Scheme: "unix", Path: clientSock}
	pu := url.URL{Scheme: "unix", Path: peerSock}
	ec := embed.NewConfig()
	ec.Name = "headwater"
	ec.Dir = filepath.Join(dir, "etcd")
	ec.ListenClientUrls = []url.URL{cu}
	ec.AdvertiseClientUrls = []url.URL{cu}
	ec.ListenPeerUrls = []url.URL{pu}
	ec.AdvertisePeerUrls = []url.URL{pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.QuotaBackendBytes = c.QuotaBytes
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = c.CompactionRetention.String()
	ec.SnapshotCount = c.SnapshotCount
	// etcd keeps this many raft entries in memory after each snapshot for
	// followers to catch up; a single embedded member has none.
	ec.SnapshotCatchUpEntries = 500
	ec.MaxTxnOps = c.MaxTxnOps
	ec.Logger = "zap"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(newSlogCore(c.Logger.With("component", "etcd"))))

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", ec.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("waiting for embedded etcd: %w", ctx.Err())
	}
	bg, stop := context.WithCancel(context.Background())
	s := &Server{etcd: e, endpoint: cu.String(), cfg: c, log: c.Logger, stop: stop, done: make(chan struct{})}
	go s.maintain(bg)
	return s, nil
}

// Endpoint is the client URL (a unix socket).
func (s *Server) Endpoint() string { return s.endpoint }

// Err reports a fatal etcd error.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// NewClient returns a client of this server; the caller closes it.
func (s *Server) NewClient() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{s.endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// Close stops etcd cleanly: in-flight requests finish and the WAL is synced.
func (s *Server) Close() {
	s.stop()
	<-s.done
	s.etcd.Close()
}

// maintain defragments on schedule. Compaction frees revisions but not
// file space; defragmentation returns it (and blocks writes briefly, so it
// runs rarely). It goes through a client, since defragmenting through the
// in-process client crashes.
func (s *Server) maintain(ctx context.Context) {
	defer close(s.done)
	if s.cfg.DefragInterval <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.DefragInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Defragment(ctx); err != nil {
				s.log.Warn("defragmenting etcd failed", "err", err)
			}
		}
	}
}

// Defragment returns free space in etcd's database file to the file system.
func (s *Server) Defragment(ctx context.Context) error {
	cli, err := s.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	before, err := cli.Status(ctx, s.endpoint)
	if err != nil {
		return fmt.Errorf("etcd status: %w", err)
	}
	start := time.Now()
	if _, err := cli.Defragment(ctx, s.endpoint); err != nil {
		return fmt.Errorf("defragment: %w", err)
	}
	after, err := cli.Status(ctx, s.endpoint)
	if err != nil {
		return fmt.Errorf("etcd status: %w", err)
	}
	s.log.Info("etcd defragmented", "db_bytes_before", before.DbSize, "db_bytes_after", after.DbSize, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
