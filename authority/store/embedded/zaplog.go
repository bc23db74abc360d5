package embedded

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// slogCore sends etcd's zap logs to slog, so the process writes one log
// format. etcd is chatty at info; only warnings and errors pass.
type slogCore struct {
	log    *slog.Logger
	fields []zapcore.Field
	seen   *recent
}

// recent remembers when each message was last logged: etcd repeats some
// warnings in tight retry loops (hundreds of "failed to publish local
// member" while it replays its log at start), and one per interval says
// as much.
type recent struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const repeatInterval = 10 * time.Second

func (r *recent) allow(msg string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[msg]; ok && now.Sub(t) < repeatInterval {
		return false
	}
	if len(r.last) > 1000 {
		clear(r.last)
	}
	r.last[msg] = now
	return true
}

func newSlogCore(l *slog.Logger) zapcore.Core {
	return &slogCore{log: l, seen: &recent{last: map[string]time.Time{}}}
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c *slogCore) With(fs []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, fields: append(append([]zapcore.Field(nil), c.fields...), fs...), seen: c.seen}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	// Closing etcd makes its listeners report "server closed" as errors;
	// they are the expected end of a clean shutdown.
	// The other two are warnings about settings that do not apply here:
	// the client listener is a private unix socket, and auth is off.
	for _, quiet := range []string{"setting up serving from embedded etcd failed", "stopping insecure grpc server due to error", "stopped insecure grpc server due to error", "Running http and grpc server on single port", "simple token is not cryptographically signed"} {
		if strings.Contains(e.Message, quiet) {
			return nil
		}
	}
	if !c.seen.allow(e.Message, e.Time) {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	level := slog.LevelWarn
	if e.Level >= zapcore.ErrorLevel {
		level = slog.LevelError
	}
	c.log.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }
