package samltest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// spDir is internal/samltest/sp in the source tree: found from the path
// this file was compiled from, or (under -trimpath, where that path is not
// a real one) from the module root above the test's working directory.
func spDir(t testing.TB) string {
	t.Helper()
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "sp"))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				candidates = append(candidates, filepath.Join(dir, "internal", "samltest", "sp"))
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "sp.js")); err == nil {
			return dir
		}
	}
	t.Fatalf("samltest: cannot find the test SP (internal/samltest/sp/sp.js); looked in %q", candidates)
	return ""
}

// ensureNodeModules runs `npm ci` in dir unless node_modules already holds
// exactly what package-lock.json names. Test binaries of several packages
// may get here at once, so an flock on a file in the temp dir serializes
// them (and goroutines of one binary too: each opens the file anew).
func ensureNodeModules(t testing.TB, dir string) {
	t.Helper()
	if nodeModulesCurrent(dir) {
		return
	}
	lockPath := filepath.Join(os.TempDir(), "headwater-samltest-npm.lock")
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("samltest: opening %s: %v", lockPath, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("samltest: locking %s: %v", lockPath, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file unlocks too
	if nodeModulesCurrent(dir) {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("samltest: npm is not installed, and the test SP needs it to install @node-saml/node-saml into %s/node_modules; install Node.js 18 or later with npm (scripts/test-deps.sh runs `npm ci` there too)", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("samltest: `npm ci` in %s failed: %v\n%s\nThe test SP needs its npm packages: make the npm registry reachable (or run scripts/test-deps.sh where it is) and try again.", dir, err, out)
	}
	if !nodeModulesCurrent(dir) {
		t.Fatalf("samltest: `npm ci` in %s finished but node_modules still does not match package-lock.json:\n%s", dir, out)
	}
}

// nodeModulesCurrent reports whether npm's record of what it installed
// (node_modules/.package-lock.json) names the same package versions as the
// committed package-lock.json.
func nodeModulesCurrent(dir string) bool {
	want, err := lockedVersions(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	have, err := lockedVersions(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false
	}
	for path, v := range want {
		if path == "" {
			continue // the root project itself
		}
		if have[path] != v {
			return false
		}
		if _, err := os.Stat(filepath.Join(dir, path, "package.json")); err != nil {
			return false
		}
	}
	return true
}

func lockedVersions(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(lock.Packages) == 0 {
		return nil, errors.New(path + ": no packages")
	}
	out := make(map[string]string, len(lock.Packages))
	for p, e := range lock.Packages {
		out[p] = e.Version
	}
	return out, nil
}
