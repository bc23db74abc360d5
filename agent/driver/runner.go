package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Runner runs an account tool. Drivers run every tool through it so that
// tests can record exactly what a driver would run, and so that a secret has
// exactly one way into a tool: stdin.
type Runner interface {
	// Run runs name with args, writes stdin to its standard input and
	// returns its standard output. A command that starts but exits
	// unsuccessfully yields an *ExitError carrying its exit code and
	// standard error, so drivers can turn tool-specific failures into
	// errors the caller understands.
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExitError reports a command that ran and exited unsuccessfully.
type ExitError struct {
	Name string
	Args []string
	// Code is the exit status, or -1 when the command was killed by a
	// signal.
	Code   int
	Stdout string
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(e.Stdout)
	}
	if msg == "" {
		return fmt.Sprintf("%s %q: exit status %d", e.Name, e.Args, e.Code)
	}
	return fmt.Sprintf("%s %q: exit status %d: %s", e.Name, e.Args, e.Code, msg)
}

// defaultDirs are where ExecRunner looks for account tools before $PATH.
// The agent runs as root, so it prefers the system directories to whatever
// PATH it inherited, and finds the sbin tools even when PATH omits them.
func defaultDirs() []string {
	return []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}
}

// maxCapture bounds how much standard error an ExitError keeps; a tool's
// diagnosis fits easily and a runaway tool cannot balloon an error string.
const maxCapture = 8 << 10

// ExecRunner runs commands as child processes of the agent.
//
// Each child gets a fixed environment (a PATH of the searched directories
// and the C locale, so diagnostics match what drivers look for) and, on
// Unix, a session of its own with no controlling terminal, so a tool that
// prompts for a password reads it from standard input rather than from the
// terminal of whoever started the agent.
type ExecRunner struct {
	// Dirs are searched in order for a command named without a slash,
	// before $PATH. Nil means /usr/sbin, /usr/bin, /sbin and /bin.
	Dirs []string
	// Logger, if not nil, receives one debug record per command: its name,
	// arguments, exit code and duration, never its standard input.
	Logger *slog.Logger
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	path, err := r.lookPath(name)
	if err != nil {
		return nil, err
	}
	dirs := r.dirs()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=" + strings.Join(dirs, string(os.PathListSeparator)), "LC_ALL=C", "LANG=C"}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout bytes.Buffer
	stderr := &cappedBuffer{max: maxCapture}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	err = cmd.Run()
	if r.Logger != nil {
		r.Logger.LogAttrs(ctx, slog.LevelDebug, "account tool ran",
			slog.String("command", name), slog.Any("args", args),
			slog.Int("exit_code", cmd.ProcessState.ExitCode()),
			slog.Duration("duration", time.Since(start)))
	}
	if err == nil {
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.Bytes(), &ExitError{
			Name:   name,
			Args:   append([]string(nil), args...),
			Code:   ee.ExitCode(),
			Stdout: truncate(stdout.String(), maxCapture),
			Stderr: stderr.String(),
		}
	}
	return nil, fmt.Errorf("run %s: %w", name, err)
}

func (r ExecRunner) dirs() []string {
	if r.Dirs == nil {
		return defaultDirs()
	}
	return r.Dirs
}

// lookPath resolves name against the runner's directories first, so a
// hostile PATH cannot substitute a tool that would receive a password.
func (r ExecRunner) lookPath(name string) (string, error) {
	if strings.ContainsRune(name, '/') || strings.ContainsRune(name, filepath.Separator) {
		return name, nil
	}
	for _, dir := range r.dirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed here (looked in %s and $PATH); install the package that provides it: %w",
			name, strings.Join(r.dirs(), ", "), err)
	}
	return p, nil
}

// cappedBuffer keeps the first max bytes written and discards the rest
// while still reporting success, so a chatty tool is never blocked.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string { return c.buf.String() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
