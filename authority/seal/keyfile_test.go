package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	key32 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	key16 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		wantIDs []string
		wantErr string // substring; empty means success
	}{
		{"one key", "a " + key32 + "\n", []string{"a"}, ""},
		{"comments and blanks", "# hi\n\n  # indented comment\na " + key32 + "\n\n# mid\nb " + key32 + "\n", []string{"a", "b"}, ""},
		{"crlf and tabs", "a\t" + key32 + "\r\nb  " + key32 + "\r\n", []string{"a", "b"}, ""},
		{"no trailing newline", "k_1-X " + key32, []string{"k_1-X"}, ""},
		{"max kid length", strings.Repeat("k", 32) + " " + key32, []string{strings.Repeat("k", 32)}, ""},
		{"empty", "", nil, "no keys"},
		{"only comments", "# nothing\n", nil, "no keys"},
		{"one field", "# c\na\n", nil, "line 2: want"},
		{"three fields", "a " + key32 + " extra\n", nil, "line 1: want"},
		{"bad kid", "a.b " + key32 + "\n", nil, "line 1: the key id"},
		{"kid too long", strings.Repeat("k", 33) + " " + key32, nil, "line 1: the key id"},
		{"duplicate", "a " + key32 + "\n#\na " + key32 + "\n", nil, `line 3: key id "a" already used on line 1`},
		{"short key", "a " + key16 + "\n", nil, "line 1: key \"a\" is 16 bytes"},
		{"bad base64", "a not-base64!\n", nil, "line 1: key \"a\" is not valid standard base64"},
		{"unpadded base64", "a " + strings.TrimRight(key32, "=") + "\n", nil, "not valid standard base64"},
		{"comment after key", "a " + key32 + " # note\n", nil, "line 1: want"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Parse([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v, want containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), key32) || strings.Contains(err.Error(), key16) {
					t.Errorf("error leaks key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := strings.Join(k.KeyIDs(), ","); got != strings.Join(tc.wantIDs, ",") {
				t.Errorf("KeyIDs = %s, want %s", got, strings.Join(tc.wantIDs, ","))
			}
			if k.ActiveKeyID() != tc.wantIDs[0] {
				t.Errorf("ActiveKeyID = %s, want %s", k.ActiveKeyID(), tc.wantIDs[0])
			}
		})
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "secret.key")

	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = created %v, err %v; want created", created, err)
	}
	if got := mode(t, path); got != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", got)
	}
	if got := mode(t, dir); got != 0o700 {
		t.Errorf("key dir mode = %04o, want 0700", got)
	}
	if ids := k.KeyIDs(); len(ids) != 1 || !validKID(ids[0]) {
		t.Errorf("KeyIDs = %v, want one valid id", ids)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (temp file left behind?)", len(entries))
	}

	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = created %v, err %v; want loaded", created, err)
	}
	if k2.ActiveKeyID() != k.ActiveKeyID() {
		t.Errorf("second load has key %s, want %s", k2.ActiveKeyID(), k.ActiveKeyID())
	}
}

// TestLoadOrCreateRace checks that processes starting together agree on one key.
func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := LoadOrCreate(path)
			errs[i] = err
			if err == nil {
				ids[i] = k.ActiveKeyID()
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("LoadOrCreate %d got key %s, another got %s", i, ids[i], ids[0])
		}
	}
}

func TestLoadRefusesLoosePermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte("a "+key32+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		perm    fs.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o644, true},
		{0o640, true},
		{0o604, true},
	} {
		if err := os.Chmod(path, tc.perm); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("Load with mode %04o: error = %v, want one telling to chmod 600", tc.perm, err)
			}
		} else if err != nil {
			t.Errorf("Load with mode %04o: %v", tc.perm, err)
		}
	}
	// LoadOrCreate must not "fix" a loose file by replacing it.
	os.Chmod(path, 0o644)
	if _, _, err := LoadOrCreate(path); err == nil {
		t.Error("LoadOrCreate accepted a 0644 key file")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("# c\nonly-a-kid\n"), 0o600)

	_, err := Load(filepath.Join(dir, "missing.key"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	_, err = Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Load(bad) = %v, want error naming path and line 2", err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("Load(directory) succeeded")
	}
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, _, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	oldKID := k1.ActiveKeyID()
	aad := []byte("/headwater/directories/ad")
	oldSealed, err := k1.Seal([]byte("bind-password"), aad)
	if err != nil {
		t.Fatal(err)
	}

	newKID, err := Rotate(path)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if newKID == oldKID {
		t.Fatal("Rotate reused the old key id")
	}
	if got := mode(t, path); got != 0o600 {
		t.Errorf("mode after rotate = %04o, want 0600", got)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# Headwater sealing keys") {
		t.Error("Rotate dropped the header comment")
	}

	k2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := k2.KeyIDs(); len(got) != 2 || got[0] != newKID || got[1] != oldKID {
		t.Fatalf("KeyIDs after rotate = %v, want [%s %s]", got, newKID, oldKID)
	}
	got, err := k2.Open(oldSealed, aad)
	if err != nil || string(got) != "bind-password" {
		t.Fatalf("opening old value after rotate = %q, %v", got, err)
	}
	if !k2.NeedsReseal(oldSealed) {
		t.Error("NeedsReseal(old value) = false after rotate")
	}
	newSealed, err := k2.Seal([]byte("bind-password"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := KeyID(newSealed); kid != newKID {
		t.Errorf("new seal uses key %s, want %s", kid, newKID)
	}
	if k2.NeedsReseal(newSealed) {
		t.Error("NeedsReseal(new value) = true")
	}
	// The old keyring cannot open what the new key sealed: processes must reload after rotating.
	if _, err := k1.Open(newSealed, aad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old keyring opening new value = %v, want ErrUnknownKey", err)
	}

	// A third rotation keeps everything in order.
	third, err := Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	k3, _ := Load(path)
	if got := k3.KeyIDs(); len(got) != 3 || got[0] != third || got[1] != newKID || got[2] != oldKID {
		t.Errorf("KeyIDs after second rotate = %v", got)
	}
}

func TestRotateKeepsCommentsAndHandlesMissingNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	orig := "# top comment\nold " + key32 + "\n# trailing comment"
	os.WriteFile(path, []byte(orig), 0o600)
	kid, err := Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	if lines[0] != "# top comment" || !strings.HasPrefix(lines[1], kid+" ") || lines[2] != "old "+key32 || lines[3] != "# trailing comment" {
		t.Errorf("rotated file:\n%s", data)
	}
}

func TestRotateRefuses(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	os.WriteFile(loose, []byte("a "+key32+"\n"), 0o644)
	if _, err := Rotate(loose); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Rotate(0644 file) = %v, want chmod error", err)
	}
	if _, err := Rotate(filepath.Join(dir, "missing.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rotate(missing) = %v, want fs.ErrNotExist", err)
	}
	broken := filepath.Join(dir, "broken.key")
	os.WriteFile(broken, []byte("a "+key16+"\n"), 0o600)
	if _, err := Rotate(broken); err == nil {
		t.Error("Rotate accepted a file with a short key")
	}
	if data, _ := os.ReadFile(broken); string(data) != "a "+key16+"\n" {
		t.Error("Rotate modified a file it refused")
	}
}
