//go:build linux

// Package nstest lets tests change a Linux machine's local accounts with
// the real tools without touching the host: the test re-runs its own
// binary under `unshare --mount --propagation private`, and the half that
// runs there mounts an overlay over /etc (and tmpfs on /home and
// /var/mail). Files outside those mounts are shared with the host, so the
// inner half can leave results for the outer one in a temporary folder.
package nstest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// Env variables the outer half hands the inner one.
const (
	envParentNS = "HEADWATER_NSTEST_PARENT_NS"
	envDir      = "HEADWATER_NSTEST_DIR"
)

// Inside reports whether this process is the inner half.
func Inside() bool { return os.Getenv(envParentNS) != "" }

// Dir is the folder shared between the halves (inner half only).
func Dir() string { return os.Getenv(envDir) }

// Run re-runs the test binary's test named test under unshare with extra
// environment, sharing dir with it, and returns its combined output. It
// fails the test when not root or when unshare is missing, saying why.
func Run(ctx context.Context, t *testing.T, test, dir string, env ...string) ([]byte, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root: it mounts an overlay on /etc inside a private mount namespace (CI runs as root)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare is required to isolate the host's accounts (util-linux): %v", err)
	}
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), envParentNS+"="+ns, envDir+"="+dir), env...)
	return cmd.CombinedOutput()
}

// IsolateEtc (inner half) puts a tmpfs-backed overlay on /etc and tmpfs on
// /home and /var/mail, after proving this process has a mount namespace of
// its own, and makes PAM and shadow-utils hash with sha512-crypt inside it
// (Debian's yescrypt has no Go verifier here).
func IsolateEtc(t *testing.T) {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	if parent := os.Getenv(envParentNS); parent == "" || ns == parent {
		t.Fatalf("refusing to touch /etc: mount namespace %s is the host's (%s)", ns, parent)
	}
	scratch := filepath.Join(Dir(), "overlay")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", scratch, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v (needs CAP_SYS_ADMIN)", scratch, err)
	}
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("overlay", "/etc", "overlay", 0, "lowerdir=/etc,upperdir="+upper+",workdir="+work); err != nil {
		t.Fatalf("mount overlay on /etc: %v (the kernel needs overlayfs)", err)
	}
	for _, d := range []string{"/home", "/var/mail"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			if err := syscall.Mount("tmpfs", d, "tmpfs", 0, "size=16m"); err != nil {
				t.Fatalf("mount tmpfs on %s: %v", d, err)
			}
		}
	}
	if fs := topMountType(t, "/etc"); fs != "overlay" {
		t.Fatalf("/etc is %q, not the overlay just mounted; refusing to continue", fs)
	}
	const pam = "/etc/pam.d/common-password"
	if data, err := os.ReadFile(pam); err == nil {
		out := regexp.MustCompile(`(?m)^(password\s.*pam_unix\.so.*)\byescrypt\b`).ReplaceAll(data, []byte("${1}sha512"))
		if err := os.WriteFile(pam, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const defs = "/etc/login.defs"
	data, err := os.ReadFile(defs)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^ENCRYPT_METHOD\s.*$`)
	if re.Match(data) {
		data = re.ReplaceAll(data, []byte("ENCRYPT_METHOD SHA512"))
	} else {
		data = append(data, "\nENCRYPT_METHOD SHA512\n"...)
	}
	if err := os.WriteFile(defs, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func topMountType(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	fstype := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[4] != dir {
			continue
		}
		for i, x := range f {
			if x == "-" && i+1 < len(f) {
				fstype = f[i+1]
			}
		}
	}
	return fstype
}
