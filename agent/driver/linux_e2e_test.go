//go:build linux

package driver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/sha512_crypt"
)

// The end-to-end test runs the real Linux driver against the real
// shadow-utils and PAM without touching the host's accounts. It re-executes
// this test binary under `unshare --mount --propagation private`; inside
// that private mount namespace the helper test mounts an overlay on /etc
// whose writable layer is a tmpfs, creates a user there and drives it.
// Every change lands in the tmpfs, which vanishes with the namespace.
// (`chpasswd -R DIR` is no substitute: it cannot change a password through
// PAM in another root.)

const (
	e2eMarkerEnv  = "HEADWATER_DRIVER_E2E_IN_NAMESPACE"
	e2eDirEnv     = "HEADWATER_DRIVER_E2E_DIR"
	e2eParentNSEn = "HEADWATER_DRIVER_E2E_PARENT_MNTNS"
	e2eUser       = "hwe2e"
)

// hostAccountFiles must be byte-identical before and after the test.
var hostAccountFiles = []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"}

func TestLinuxEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root: it mounts an overlay on /etc inside a private mount namespace and runs useradd, usermod and chpasswd there (CI runs as root; run `sudo go test ./agent/driver/`)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare is required to isolate the host's accounts (apt-get install util-linux): %v", err)
	}
	for _, tool := range []string{"useradd", "usermod", "chpasswd"} {
		if _, err := (ExecRunner{}).lookPath(tool); err != nil {
			t.Fatalf("the driver's tools must be installed (apt-get install passwd): %v", err)
		}
	}
	parentNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatalf("read this process's mount namespace: %v", err)
	}
	if _, err := os.Lstat("/home/" + e2eUser); err == nil {
		t.Fatalf("/home/%s already exists on the host; remove it so this test can prove it creates nothing there", e2eUser)
	}
	before := hashHostFiles(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private",
		self, "-test.run=^TestLinuxEndToEndInNamespace$", "-test.v", "-test.count=1", "-test.timeout=3m")
	cmd.Env = append(os.Environ(),
		e2eMarkerEnv+"=1",
		e2eDirEnv+"="+t.TempDir(),
		e2eParentNSEn+"="+parentNS,
	)
	out, runErr := cmd.CombinedOutput()
	t.Logf("inside the namespace:\n%s", out)

	// Check the host first: a broken run must still prove it left the
	// host's accounts alone.
	after := hashHostFiles(t)
	for _, f := range hostAccountFiles {
		if before[f] != after[f] {
			t.Errorf("host %s changed: sha256 %s before, %s after", f, before[f], after[f])
		}
	}
	if _, err := os.Lstat("/home/" + e2eUser); err == nil {
		t.Errorf("/home/%s appeared on the host", e2eUser)
	}
	if runErr != nil {
		t.Fatalf("the namespace half failed (%v); its output is above. If unshare itself failed, this process lacks CAP_SYS_ADMIN: run as real root, or the container privileged", runErr)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestLinuxEndToEndInNamespace")) {
		t.Fatalf("the namespace half did not report a pass; its output is above")
	}
}

func hashHostFiles(t *testing.T) map[string]string {
	t.Helper()
	sums := make(map[string]string)
	for _, f := range hostAccountFiles {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) && f != "/etc/passwd" && f != "/etc/shadow" {
			sums[f] = "absent"
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		sum := sha256.Sum256(data)
		sums[f] = hex.EncodeToString(sum[:])
	}
	return sums
}

// TestLinuxEndToEndInNamespace is the half of TestLinuxEndToEnd that runs
// inside the private mount namespace. It refuses to run anywhere else.
func TestLinuxEndToEndInNamespace(t *testing.T) {
	if os.Getenv(e2eMarkerEnv) != "1" {
		t.Skip("runs only inside the private mount namespace that TestLinuxEndToEnd creates; TestLinuxEndToEnd fails unless this half passes there")
	}
	isolateEtc(t)
	useSHA512(t)

	ctx := t.Context()
	run := ExecRunner{}
	if _, err := run.Run(ctx, nil, "useradd", "-M", "-l", "-s", "/bin/bash", "-c", "Original Name", e2eUser); err != nil {
		t.Fatalf("useradd: %v", err)
	}
	d := NewLinux(run, "/")

	a, err := d.Get(ctx, e2eUser)
	if err != nil {
		t.Fatal(err)
	}
	if a.FullName != "Original Name" || a.System || !a.Locked || a.UID < 1000 {
		t.Errorf("fresh account = %+v; want FullName %q, a person (uid >= 1000, not System), locked (no password yet)", a, "Original Name")
	}
	if err := d.Enable(ctx, e2eUser); err == nil {
		t.Errorf("Enable of an account with no password succeeded; want a refusal")
	}

	t.Run("SetPassword", func(t *testing.T) {
		const first, second = "first Passw0rd!", "sëcond pass #2 ☃"
		if err := d.SetPassword(ctx, e2eUser, first); err != nil {
			t.Fatal(err)
		}
		h := shadowFields(t, e2eUser)[1]
		if !strings.HasPrefix(h, "$6$") {
			t.Fatalf("hash %q is not sha512-crypt; PAM was not configured as expected", h)
		}
		verifyHash(t, h, first, true)
		if err := d.SetPassword(ctx, e2eUser, second); err != nil {
			t.Fatal(err)
		}
		h = shadowFields(t, e2eUser)[1]
		verifyHash(t, h, second, true)
		verifyHash(t, h, first, false)

		shadowBefore := readFile(t, "/etc/shadow")
		for _, bad := range []string{"has:colon", "two\nlines", "root:owned\n"} {
			if err := d.SetPassword(ctx, e2eUser, bad); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("SetPassword(%q) = %v, want ErrInvalidInput", bad, err)
			}
		}
		if !bytes.Equal(shadowBefore, readFile(t, "/etc/shadow")) {
			t.Errorf("/etc/shadow changed although every password was refused")
		}
		if err := d.SetPassword(ctx, "hw-nobody-here", "x"); !errors.Is(err, ErrNoSuchAccount) {
			t.Errorf("SetPassword(unknown) = %v, want ErrNoSuchAccount", err)
		}
	})

	t.Run("DisableEnable", func(t *testing.T) {
		hash := shadowFields(t, e2eUser)[1]
		for range 2 { // a second Disable must not stack a second '!'
			if err := d.Disable(ctx, e2eUser); err != nil {
				t.Fatal(err)
			}
		}
		f := shadowFields(t, e2eUser)
		if f[1] != "!"+hash || f[7] != "1" {
			t.Errorf("after Disable: hash %q expiry %q; want %q and 1", f[1], f[7], "!"+hash)
		}
		if a, err := d.Get(ctx, e2eUser); err != nil || !a.Locked {
			t.Errorf("Get after Disable = %+v, %v; want Locked", a, err)
		}
		if err := d.Enable(ctx, e2eUser); err != nil {
			t.Fatal(err)
		}
		f = shadowFields(t, e2eUser)
		if f[1] != hash || f[7] != "" {
			t.Errorf("after Enable: hash %q expiry %q; want %q and empty", f[1], f[7], hash)
		}
		if a, err := d.Get(ctx, e2eUser); err != nil || a.Locked {
			t.Errorf("Get after Enable = %+v, %v; want not Locked", a, err)
		}
		verifyHash(t, f[1], "sëcond pass #2 ☃", true)
		if err := d.Disable(ctx, "hw-nobody-here"); !errors.Is(err, ErrNoSuchAccount) {
			t.Errorf("Disable(unknown) = %v, want ErrNoSuchAccount", err)
		}
	})

	t.Run("SetFullName", func(t *testing.T) {
		if err := d.SetFullName(ctx, e2eUser, "Ada Lovelace"); err != nil {
			t.Fatal(err)
		}
		if g := passwdFields(t, e2eUser)[4]; g != "Ada Lovelace" {
			t.Errorf("GECOS = %q, want %q", g, "Ada Lovelace")
		}
		if a, err := d.Get(ctx, e2eUser); err != nil || a.FullName != "Ada Lovelace" {
			t.Errorf("Get = %+v, %v; want FullName Ada Lovelace", a, err)
		}
		if err := d.SetFullName(ctx, e2eUser, "Ada:Lovelace"); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("SetFullName with ':' = %v, want ErrInvalidInput", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		all, err := d.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]Account{}
		for _, a := range all {
			found[a.Name] = a
			shell := passwdFields(t, a.Name)[6]
			if (a.UID < 1000 || noLoginShell(shell)) && !a.System {
				t.Errorf("%+v (shell %s) is not marked System", a, shell)
			}
		}
		if me, ok := found[e2eUser]; !ok || me.System || me.FullName != "Ada Lovelace" {
			t.Errorf("List entry for %s = %+v (found %v); want a non-System account named Ada Lovelace", e2eUser, me, ok)
		}
		if r, ok := found["root"]; !ok || !r.System {
			t.Errorf("List entry for root = %+v (found %v); want System", r, ok)
		}
	})

	// Pin down the tool behaviour the driver's error mapping relies on.
	t.Run("ToolExitCodes", func(t *testing.T) {
		_, err := run.Run(ctx, nil, "usermod", "-L", "hw-nobody-here")
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 6 || !errors.Is(usermodError(err), ErrNoSuchAccount) {
			t.Errorf("usermod on an unknown user: %v; want exit 6 mapped to ErrNoSuchAccount", err)
		}
		// chpasswd gives only a generic PAM failure for an unknown user,
		// which is why SetPassword checks /etc/passwd first.
		_, err = run.Run(ctx, []byte("hw-nobody-here:x\n"), "chpasswd")
		if !errors.As(err, &ee) || ee.Code != 1 {
			t.Errorf("chpasswd for an unknown user: %v; want exit 1", err)
		}
	})
}

// isolateEtc puts a tmpfs-backed overlay on /etc, and tmpfs on /home and
// /var/mail, after proving this process has a mount namespace of its own.
func isolateEtc(t *testing.T) {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	if parent := os.Getenv(e2eParentNSEn); parent == "" || ns == parent {
		t.Fatalf("refusing to touch /etc: mount namespace %s is the host's (%s), so changes would be real", ns, parent)
	}
	scratch := filepath.Join(os.Getenv(e2eDirEnv), "overlay")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", scratch, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v (this process needs CAP_SYS_ADMIN; in a container, run it privileged)", scratch, err)
	}
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=/etc,upperdir=" + upper + ",workdir=" + work
	if err := syscall.Mount("overlay", "/etc", "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay on /etc: %v (the kernel needs overlayfs: modprobe overlay; in a container, run it privileged)", err)
	}
	// useradd -M creates no home and -l writes no lastlog, but cover
	// both anyway so a changed default cannot reach the host.
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
	if _, err := os.Stat("/home/" + e2eUser); err == nil {
		t.Fatalf("/home/%s exists", e2eUser)
	}
	if strings.Contains(string(readFile(t, "/etc/passwd")), "\n"+e2eUser+":") {
		t.Fatalf("the host already has a user %q; this test would change it", e2eUser)
	}
}

// useSHA512 makes PAM and shadow-utils hash with sha512-crypt inside the
// overlay. Debian 12 defaults to yescrypt, which no Go library here can
// verify; the driver does not care which method the machine uses.
func useSHA512(t *testing.T) {
	t.Helper()
	const pam = "/etc/pam.d/common-password"
	if data, err := os.ReadFile(pam); err == nil {
		out := regexp.MustCompile(`(?m)^(password\s.*pam_unix\.so.*)\byescrypt\b`).ReplaceAll(data, []byte("${1}sha512"))
		if err := os.WriteFile(pam, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const defs = "/etc/login.defs"
	data := readFile(t, defs)
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

// topMountType returns the filesystem type of the mount that is visible at
// dir: the last mountinfo(5) entry for it.
func topMountType(t *testing.T, dir string) string {
	t.Helper()
	fstype := ""
	for _, line := range strings.Split(string(readFile(t, "/proc/self/mountinfo")), "\n") {
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

func verifyHash(t *testing.T, hash, password string, want bool) {
	t.Helper()
	if !crypt.IsHashSupported(hash) {
		t.Fatalf("cannot verify hash %q", hash)
	}
	err := crypt.NewFromHash(hash).Verify(hash, []byte(password))
	if got := err == nil; got != want {
		t.Errorf("password %q verifies against %q: %v, want %v", password, hash, got, want)
	}
}

func shadowFields(t *testing.T, name string) []string {
	t.Helper()
	return fileFields(t, "/etc/shadow", name, 9)
}

func passwdFields(t *testing.T, name string) []string {
	t.Helper()
	return fileFields(t, "/etc/passwd", name, 7)
}

func fileFields(t *testing.T, file, name string, n int) []string {
	t.Helper()
	for _, line := range strings.Split(string(readFile(t, file)), "\n") {
		if f := strings.Split(line, ":"); f[0] == name {
			if len(f) != n {
				t.Fatalf("%s entry for %s has %d fields, want %d", file, name, len(f), n)
			}
			return f
		}
	}
	t.Fatalf("%s has no entry for %s", file, name)
	return nil
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
