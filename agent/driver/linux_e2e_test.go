//go:build linux

package driver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/sha512_crypt"

	"github.com/headwater/headwater/internal/nstest"
)

// The end-to-end test runs the real Linux driver against the real
// shadow-utils and PAM without touching the host's accounts. It re-executes
// this test binary under `unshare --mount --propagation private`; inside
// that private mount namespace the helper test mounts an overlay on /etc
// whose writable layer is a tmpfs, creates a user there and drives it.
// Every change lands in the tmpfs, which vanishes with the namespace.
// (`chpasswd -R DIR` is no substitute: it cannot change a password through
// PAM in another root.)

const e2eUser = "hwe2e"

// hostAccountFiles must be byte-identical before and after the test.
var hostAccountFiles = []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"}

func TestLinuxEndToEnd(t *testing.T) {
	for _, tool := range []string{"useradd", "usermod", "chpasswd"} {
		if _, err := (ExecRunner{}).lookPath(tool); err != nil {
			t.Fatalf("the driver's tools must be installed (apt-get install passwd): %v", err)
		}
	}
	if _, err := os.Lstat("/home/" + e2eUser); err == nil {
		t.Fatalf("/home/%s already exists on the host; remove it so this test can prove it creates nothing there", e2eUser)
	}
	before := hashHostFiles(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, runErr := nstest.Run(ctx, t, "TestLinuxEndToEndInNamespace", t.TempDir())
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
	if !nstest.Inside() {
		t.Skip("runs only inside the private mount namespace that TestLinuxEndToEnd creates; TestLinuxEndToEnd fails unless this half passes there")
	}
	nstest.IsolateEtc(t)
	if _, err := os.Stat("/home/" + e2eUser); err == nil {
		t.Fatalf("/home/%s exists", e2eUser)
	}
	if strings.Contains(string(readFile(t, "/etc/passwd")), "\n"+e2eUser+":") {
		t.Fatalf("the host already has a user %q; this test would change it", e2eUser)
	}

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
