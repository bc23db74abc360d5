package driver

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// call is one command a driver asked its Runner to run.
type call struct {
	Stdin string
	Name  string
	Args  []string
}

// fakeRunner records every command instead of running it and answers
// through respond, so tests see exactly what a driver would run.
type fakeRunner struct {
	mu      sync.Mutex
	calls   []call
	respond func(c call) ([]byte, error)
}

func (f *fakeRunner) Run(_ context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	// Copy stdin: drivers wipe the buffer holding a password once Run
	// returns.
	c := call{Stdin: string(stdin), Name: name, Args: append([]string(nil), args...)}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if f.respond == nil {
		return nil, nil
	}
	return f.respond(c)
}

func (f *fakeRunner) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// assertSecretOnlyOnStdin fails if secret appears in any command's name or
// arguments, where other local users could read it from the process table.
func assertSecretOnlyOnStdin(t *testing.T, calls []call, secret string) {
	t.Helper()
	for _, c := range calls {
		if strings.Contains(c.Name, secret) {
			t.Errorf("password appears in command name %q", c.Name)
		}
		for _, a := range c.Args {
			if strings.Contains(a, secret) {
				t.Errorf("password appears in argv of %s %q", c.Name, c.Args)
			}
		}
	}
}
