package seal

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// fileHeader opens every key file this package writes, so whoever finds the file knows what it
// is and what losing it costs.
const fileHeader = `# Headwater sealing keys: "<key id> <base64 of 32 bytes>", one per line.
# The first key seals new values; the others only open values sealed before a rotation.
# Keep this file private (chmod 600) and back it up: sealed secrets cannot be recovered without it.
# Rotation adds a new key at the top; never delete a key while values sealed under it remain.
`

// Parse reads a key file: '#' comment lines and blank lines are ignored, every other line is
// "<kid> <base64 std of 32 bytes>". The first key line is the active key.
func Parse(data []byte) (*Keyring, error) {
	k, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	return k, nil
}

// parse returns errors without a prefix so Parse and Load can say where the data came from.
// Errors never quote the key material.
func parse(data []byte) (*Keyring, error) {
	k := &Keyring{aeads: make(map[string]cipher.AEAD)}
	seen := make(map[string]int) // kid -> line number, for the duplicate message
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"<key id> <base64 key>\", found %d fields", n, len(fields))
		}
		kid, enc := fields[0], fields[1]
		if !validKID(kid) {
			// The bad id is not quoted: with the columns swapped it would be the key.
			return nil, fmt.Errorf("line %d: the key id (first field) must be 1-%d characters of A-Z a-z 0-9 _ -", n, maxKIDLen)
		}
		if prev, dup := seen[kid]; dup {
			return nil, fmt.Errorf("line %d: key id %q already used on line %d; every key needs its own id", n, kid, prev)
		}
		key, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q is not valid standard base64", n, kid)
		}
		if len(key) != keySize {
			return nil, fmt.Errorf("line %d: key %q is %d bytes; it must be %d random bytes (AES-256)", n, kid, len(key), keySize)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q: %w", n, kid, err)
		}
		seen[kid] = n
		k.order = append(k.order, kid)
		k.aeads[kid] = aead
	}
	if len(k.order) == 0 {
		return nil, errors.New("no keys found; the file needs at least one \"<key id> <base64 key>\" line")
	}
	return k, nil
}

// Load reads and parses the key file at path. It refuses a file that group or others may read,
// because anyone who can read it can open every sealed secret.
func Load(path string) (*Keyring, error) {
	data, _, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	k, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreate loads the key file at path, or when there is none creates it (and its directory,
// 0700) with one new key, mode 0600. created reports which happened.
//
// Creation never replaces a file that appeared in the meantime (say, a second process starting
// at the same moment): both processes must end up sealing with the same key.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("seal: creating key directory: %w", err)
	}
	line, _, err := newKeyLine(nil)
	if err != nil {
		return nil, false, err
	}
	data := []byte(fileHeader + line + "\n")
	ok, err := writeAtomic(path, data, 0o600, false)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		// Lost the race to another creator; use the key it wrote.
		k, err = Load(path)
		return k, false, err
	}
	k, err = Load(path)
	return k, err == nil, err
}

// Rotate puts a new key first in the key file at path, keeping the old keys (and any comments)
// after it so values sealed under them still open. Running processes keep sealing with the old
// key until they load the file again. Two Rotate calls racing on one file may lose one of the
// new keys; that is harmless as long as nothing sealed with it, so run rotation from one place.
func Rotate(path string) (newKID string, err error) {
	data, mode, err := readPrivate(path)
	if err != nil {
		return "", err
	}
	old, err := parse(data)
	if err != nil {
		return "", fmt.Errorf("seal: key file %s: %w", path, err)
	}
	line, kid, err := newKeyLine(old.order)
	if err != nil {
		return "", err
	}
	// Insert before the first key line so comments at the top stay at the top.
	lines := strings.SplitAfter(string(data), "\n")
	at := len(lines)
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "#") {
			at = i
			break
		}
	}
	var out bytes.Buffer
	for _, l := range lines[:at] {
		out.WriteString(l)
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	out.WriteString(line + "\n")
	for _, l := range lines[at:] {
		out.WriteString(l)
	}
	if _, err := writeAtomic(path, out.Bytes(), mode.Perm(), true); err != nil {
		return "", err
	}
	return kid, nil
}

// readPrivate reads path after checking, on the open file, that only its owner may read it.
func readPrivate(path string) ([]byte, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("seal: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; its ACLs are the administrator's business.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, 0, fmt.Errorf("seal: key file %s has mode %04o, so other users can read the sealing keys; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := readAll(f, fi.Size())
	if err != nil {
		return nil, 0, fmt.Errorf("seal: reading key file %s: %w", path, err)
	}
	return data, fi.Mode(), nil
}

func readAll(f *os.File, size int64) ([]byte, error) {
	// Key files are a few lines; anything huge is not a key file and is not worth reading.
	const limit = 1 << 20
	if size > limit {
		return nil, fmt.Errorf("file is %d bytes, larger than any key file (limit %d)", size, limit)
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// newKeyLine makes a fresh key and a key id not in taken. The id starts with the UTC time so
// an operator reading the file can tell keys apart by age.
func newKeyLine(taken []string) (line, kid string, err error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", "", fmt.Errorf("seal: generating key: %w", err)
	}
	for range 10 {
		suffix := make([]byte, 4)
		if _, err := rand.Read(suffix); err != nil {
			return "", "", fmt.Errorf("seal: generating key id: %w", err)
		}
		kid = time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix)
		if !contains(taken, kid) {
			return kid + " " + base64.StdEncoding.EncodeToString(key), kid, nil
		}
	}
	return "", "", errors.New("seal: could not pick an unused key id")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeAtomic writes data to path through a temporary file in the same directory, so a crash
// leaves either the old file or the new one, never half a key file. With replace false it
// refuses to overwrite an existing file and reports ok=false instead.
func writeAtomic(path string, data []byte, perm fs.FileMode, replace bool) (ok bool, err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("seal: writing key file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // no-op after a rename; cleans up after link or failure
	}()
	// CreateTemp already uses 0600; Chmod makes the intended mode explicit despite the umask.
	if err := tmp.Chmod(perm); err != nil {
		return false, fmt.Errorf("seal: writing key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return false, fmt.Errorf("seal: writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("seal: writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return false, fmt.Errorf("seal: writing key file: %w", err)
	}
	tmp = nil
	if replace {
		if err := os.Rename(tmpName, path); err != nil {
			return false, fmt.Errorf("seal: writing key file: %w", err)
		}
	} else if err := os.Link(tmpName, path); err != nil {
		// A hard link publishes the file only if the name is free, which rename cannot promise.
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("seal: creating key file (the filesystem must support hard links): %w", err)
	}
	if err := syncDir(dir); err != nil {
		return false, fmt.Errorf("seal: writing key file: %w", err)
	}
	return true, nil
}

// syncDir makes the rename durable: without it a crash can bring back the old directory entry.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
