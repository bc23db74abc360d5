//go:build unix

package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExecRunnerFeedsStdinAndReturnsStdout(t *testing.T) {
	out, err := ExecRunner{}.Run(t.Context(), []byte("alice:secret\n"), "cat")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "alice:secret\n" {
		t.Errorf("stdout = %q, want stdin echoed", out)
	}
}

func TestExecRunnerReportsExitCodeAndStderr(t *testing.T) {
	_, err := ExecRunner{}.Run(t.Context(), nil, "sh", "-c", "echo partial; echo 'usermod: user x does not exist' >&2; exit 6")
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if ee.Code != 6 || ee.Stderr != "usermod: user x does not exist\n" || ee.Stdout != "partial\n" {
		t.Errorf("ExitError = %+v", ee)
	}
	if !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Error() = %q, want the tool's diagnosis", err.Error())
	}
}

func TestExecRunnerCapsStderr(t *testing.T) {
	_, err := ExecRunner{}.Run(t.Context(), nil, "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1")
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	if len(ee.Stderr) != maxCapture {
		t.Errorf("kept %d bytes of stderr, want %d", len(ee.Stderr), maxCapture)
	}
}

// The parent's environment may hold secrets and a locale that would
// translate the diagnostics drivers match on; children get neither.
func TestExecRunnerUsesAFixedEnvironment(t *testing.T) {
	t.Setenv("HEADWATER_TEST_SECRET", "leak")
	t.Setenv("LC_ALL", "de_DE.UTF-8")
	out, err := ExecRunner{}.Run(t.Context(), nil, "sh", "-c", `echo "$LC_ALL|$HEADWATER_TEST_SECRET"`)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "C|\n" {
		t.Errorf("child saw %q, want %q", out, "C|\n")
	}
}

func TestExecRunnerPrefersItsDirectories(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "hwtool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho from-dirs\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := ExecRunner{Dirs: []string{dir}}.Run(t.Context(), nil, "hwtool")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "from-dirs\n" {
		t.Errorf("stdout = %q", out)
	}
	_, err = ExecRunner{Dirs: []string{dir}}.Run(t.Context(), nil, "hw-no-such-tool")
	if err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("err = %v, want a not-installed error", err)
	}
}

func TestExecRunnerHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ExecRunner{}.Run(ctx, nil, "sleep", "10")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}
