//go:build linux

package driver

import (
	"os"
	"strings"
	"testing"
)

// A tool must not be able to prompt the terminal of whoever started the
// agent: ExecRunner puts it in a session of its own, which has no
// controlling terminal.
func TestExecRunnerDetachesFromTheTerminal(t *testing.T) {
	// Field 6 of /proc/PID/stat is the session id; read it after the
	// command name, which is parenthesised and may contain spaces.
	session := func(stat string) string {
		f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
		return f[3]
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExecRunner{}.Run(t.Context(), nil, "cat", "/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	child := string(out)
	pid := strings.Fields(child)[0]
	if got := session(child); got != pid {
		t.Errorf("child session = %s, want its own (%s); parent's is %s", got, pid, session(string(self)))
	}
}
