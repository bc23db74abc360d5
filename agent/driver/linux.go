package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Linux manages accounts with the shadow-utils tools every mainstream
// distribution ships: chpasswd, so the new password goes through PAM and
// gets the hash method, history and quality checks the machine is
// configured for, and usermod, which takes the same locks as every other
// account tool. It reads /etc/passwd and /etc/shadow directly for List and
// Get, because getent would also report directory (NSS) users that these
// tools cannot change.
type Linux struct {
	run  Runner
	root string
	now  func() time.Time
}

var _ Driver = (*Linux)(nil)

// NewLinux returns a Linux driver that runs tools through r and reads the
// account files under root ("/" on a live system). root only moves where
// List and Get read; the tools always change the running system's /etc,
// because chpasswd cannot change another root through PAM.
func NewLinux(r Runner, root string) *Linux {
	return &Linux{run: r, root: root, now: time.Now}
}

// SetPassword runs chpasswd with "name:password" on its standard input.
func (l *Linux) SetPassword(ctx context.Context, name, password string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	// chpasswd reads "name:password" lines; a newline would start a second
	// record and some chpasswd builds split at every ':', so both are
	// refused rather than risk setting a different password than asked.
	if err := validatePassword(password, ":"); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	if _, err := l.lookup(name); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	line := make([]byte, 0, len(name)+len(password)+2)
	line = append(append(append(append(line, name...), ':'), password...), '\n')
	defer clear(line)
	if _, err := l.run.Run(ctx, line, "chpasswd"); err != nil {
		return fmt.Errorf("set password for %q: %w", name, chpasswdError(err))
	}
	return nil
}

// Disable locks the password (a '!' before the hash) and expires the
// account as of 1970-01-02. The expiry matters: a locked password alone
// still lets SSH keys and other non-password logins in.
func (l *Linux) Disable(ctx context.Context, name string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	if _, err := l.lookup(name); err != nil {
		return fmt.Errorf("disable %q: %w", name, err)
	}
	if _, err := l.run.Run(ctx, nil, "usermod", "-L", "-e", "1", name); err != nil {
		return fmt.Errorf("disable %q: %w", name, usermodError(err))
	}
	return nil
}

// Enable removes the password lock and the account expiry that Disable
// set.
func (l *Linux) Enable(ctx context.Context, name string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	acct, err := l.readAccounts()
	if err != nil {
		return fmt.Errorf("enable %q: %w", name, err)
	}
	e, ok := acct.byName(name)
	if !ok {
		return fmt.Errorf("enable %q: %w in %s", name, ErrNoSuchAccount, acct.passwdPath)
	}
	// usermod -U refuses, yet exits 0, when unlocking would leave no
	// password at all; catch that here so the caller hears about it.
	if strings.TrimLeft(e.hash, "!") == "" {
		return fmt.Errorf("enable %q: the account has no password, so unlocking it would allow logging in without one; set a password first, then enable it", name)
	}
	if _, err := l.run.Run(ctx, nil, "usermod", "-U", "-e", "", name); err != nil {
		return fmt.Errorf("enable %q: %w", name, usermodError(err))
	}
	return nil
}

// SetFullName replaces the GECOS field with full. Commas are refused
// because GECOS uses them to separate the full name from room and phone
// numbers, so a comma would cut the name short when read back.
func (l *Linux) SetFullName(ctx context.Context, name, full string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("set full name: %w", err)
	}
	if err := validateFullName(full, ":,"); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	if _, err := l.lookup(name); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	if _, err := l.run.Run(ctx, nil, "usermod", "-c", full, name); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, usermodError(err))
	}
	return nil
}

// List returns every account in /etc/passwd.
func (l *Linux) List(ctx context.Context) ([]Account, error) {
	acct, err := l.readAccounts()
	if err != nil {
		return nil, fmt.Errorf("list local accounts: %w", err)
	}
	out := make([]Account, 0, len(acct.entries))
	for _, e := range acct.entries {
		out = append(out, acct.account(e, l.now()))
	}
	return out, nil
}

// Get returns the account called name.
func (l *Linux) Get(ctx context.Context, name string) (*Account, error) {
	acct, err := l.readAccounts()
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", name, err)
	}
	e, ok := acct.byName(name)
	if !ok {
		return nil, fmt.Errorf("get %q: %w in %s", name, ErrNoSuchAccount, acct.passwdPath)
	}
	a := acct.account(e, l.now())
	return &a, nil
}

// lookup checks that name is a local account before a tool runs, because
// chpasswd reports a missing user only as a generic PAM failure.
func (l *Linux) lookup(name string) (passwdEntry, error) {
	p := l.file("passwd")
	data, err := os.ReadFile(p)
	if err != nil {
		return passwdEntry{}, fmt.Errorf("read account list: %w", err)
	}
	entries, err := parsePasswd(data, p)
	if err != nil {
		return passwdEntry{}, err
	}
	for _, e := range entries {
		if e.name == name {
			return e, nil
		}
	}
	return passwdEntry{}, fmt.Errorf("%w in %s", ErrNoSuchAccount, p)
}

func (l *Linux) file(name string) string {
	return filepath.Join(l.root, "etc", name)
}

// accounts is one consistent read of the account files.
type accounts struct {
	passwdPath string
	entries    []passwdEntry
	uidMin     int
}

func (a accounts) byName(name string) (passwdEntry, bool) {
	for _, e := range a.entries {
		if e.name == name {
			return e, true
		}
	}
	return passwdEntry{}, false
}

func (a accounts) account(e passwdEntry, now time.Time) Account {
	full, _, _ := strings.Cut(e.gecos, ",")
	return Account{
		Name:     e.name,
		FullName: full,
		UID:      e.uid,
		Locked:   strings.HasPrefix(e.hash, "!") || expired(e.expire, now),
		// root is marked too: it belongs to the system, and a directory
		// that manages people should leave it alone.
		System: e.uid < a.uidMin || noLoginShell(e.shell),
	}
}

func (l *Linux) readAccounts() (accounts, error) {
	p := l.file("passwd")
	data, err := os.ReadFile(p)
	if err != nil {
		return accounts{}, fmt.Errorf("read account list: %w", err)
	}
	entries, err := parsePasswd(data, p)
	if err != nil {
		return accounts{}, err
	}
	sp := l.file("shadow")
	sdata, err := os.ReadFile(sp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No shadow file: hashes live in passwd itself, as parsed.
	case errors.Is(err, fs.ErrPermission):
		return accounts{}, fmt.Errorf("read %s: %w (the agent must run as root to see which accounts are locked)", sp, err)
	case err != nil:
		return accounts{}, fmt.Errorf("read %s: %w", sp, err)
	default:
		shadow, err := parseShadow(sdata, sp)
		if err != nil {
			return accounts{}, err
		}
		for i := range entries {
			if s, ok := shadow[entries[i].name]; ok {
				entries[i].hash, entries[i].expire = s.hash, s.expire
			}
		}
	}
	return accounts{passwdPath: p, entries: entries, uidMin: l.uidMin()}, nil
}

// uidMin reads UID_MIN from login.defs, the line useradd itself uses to
// tell system accounts from people; 1000 is the default when it is unset.
func (l *Linux) uidMin() int {
	data, err := os.ReadFile(l.file("login.defs"))
	if err != nil {
		return 1000
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "UID_MIN" {
			if n, err := strconv.Atoi(f[1]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 1000
}

type passwdEntry struct {
	name, gecos, shell string
	uid                int
	hash, expire       string
}

// parsePasswd parses passwd(5). NIS compat lines ("+", "-") are skipped
// because they name no local account.
func parsePasswd(data []byte, name string) ([]passwdEntry, error) {
	var out []passwdEntry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 {
			return nil, fmt.Errorf("%s line %d: want 7 ':'-separated fields, found %d", name, i+1, len(f))
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: uid %q is not a number", name, i+1, f[2])
		}
		out = append(out, passwdEntry{name: f[0], hash: f[1], uid: uid, gecos: f[4], shell: f[6]})
	}
	return out, nil
}

type shadowEntry struct{ hash, expire string }

// parseShadow parses shadow(5), keeping the password hash and the account
// expiry date, the two fields that decide whether an account can log in.
func parseShadow(data []byte, name string) (map[string]shadowEntry, error) {
	out := make(map[string]shadowEntry)
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 2 {
			return nil, fmt.Errorf("%s line %d: want ':'-separated fields", name, i+1)
		}
		e := shadowEntry{hash: f[1]}
		if len(f) > 7 {
			e.expire = f[7]
		}
		out[f[0]] = e
	}
	return out, nil
}

// expired mirrors shadow-utils: an account whose expiry day (days since
// 1970-01-01) is positive and not after today cannot log in at all.
func expired(expire string, now time.Time) bool {
	day, err := strconv.ParseInt(expire, 10, 64)
	if err != nil || day <= 0 {
		return false
	}
	return now.Unix()/86400 >= day
}

// noLoginShell reports a shell that exists to refuse interactive logins,
// the conventional mark of a service account whatever its uid.
func noLoginShell(shell string) bool {
	switch path.Base(shell) {
	case "nologin", "false":
		return true
	}
	return false
}

// chpasswdError turns a chpasswd failure into the caller's terms.
func chpasswdError(err error) error {
	var ee *ExitError
	if !errors.As(err, &ee) {
		return err
	}
	msg := ee.Stderr
	if strings.Contains(msg, "BAD PASSWORD") || strings.Contains(msg, "password quality") ||
		strings.Contains(msg, "Password quality") {
		return fmt.Errorf("%w: %w", ErrPasswordPolicy, err)
	}
	return fmt.Errorf("chpasswd could not change the password: %w", err)
}

// usermodError maps usermod's documented exit codes (usermod(8)).
func usermodError(err error) error {
	var ee *ExitError
	if !errors.As(err, &ee) {
		return err
	}
	switch {
	case ee.Code == 6 || strings.Contains(ee.Stderr, "does not exist"):
		return fmt.Errorf("%w: %w", ErrNoSuchAccount, err)
	case ee.Code == 2 || ee.Code == 3:
		return fmt.Errorf("%w: usermod refused the arguments: %w", ErrInvalidInput, err)
	case ee.Code == 1:
		return fmt.Errorf("usermod could not update the account files (another account tool may hold their lock; retry): %w", err)
	}
	return err
}
