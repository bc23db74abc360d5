package driver

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MacOS manages accounts on the local directory node (".") with the tools
// Apple supports for it: sysadminctl to reset passwords, because it is the
// tool that keeps the other password-derived records in step, and dscl for
// everything else.
//
// Disabling appends ";DisabledUser;" to AuthenticationAuthority, the marker
// loginwindow, sshd (through OpenDirectory) and Apple's own admin tools
// honour; it is appended and removed rather than the attribute being
// replaced, because the attribute also holds the ;ShadowHash; entry that
// makes the password work.
type MacOS struct {
	run Runner
}

var _ Driver = (*MacOS)(nil)

// NewMacOS returns a macOS driver that runs its tools through r.
func NewMacOS(r Runner) *MacOS {
	return &MacOS{run: r}
}

const (
	// macDisabledTag is the AuthenticationAuthority value that disables
	// an account.
	macDisabledTag = ";DisabledUser;"
	// macMaxPassword is _PASSWORD_LEN: getpass(3), which answers
	// sysadminctl's prompt, silently drops anything longer, so a longer
	// password is refused instead of being set truncated.
	macMaxPassword = 128
	// macFirstUserUID is where macOS numbers the accounts it creates for
	// people; everything below belongs to the system.
	macFirstUserUID = 500
)

// command is one tool invocation, built by a plain function so tests can
// check exactly what would run without a Mac.
type command struct {
	name string
	args []string
}

func (c command) run(ctx context.Context, r Runner, stdin []byte) ([]byte, error) {
	return r.Run(ctx, stdin, c.name, c.args...)
}

// macSetPasswordCommand resets name's password without it ever being in an
// argument: sysadminctl documents that "-" in place of a password makes it
// prompt, and the prompt reads standard input because ExecRunner gives the
// tool no terminal. sysadminctl reports many failures only as text while
// still exiting 0, so it runs under sh with its standard error folded into
// standard output, which the driver then reads even on success. The name
// reaches sysadminctl as "$@", never as shell text.
func macSetPasswordCommand(name string) command {
	return command{name: "/bin/sh", args: []string{
		"-c", `exec /usr/sbin/sysadminctl "$@" 2>&1`, "sh",
		"-resetPasswordFor", name, "-newPassword", "-",
	}}
}

func macDisableCommand(name string) command {
	// -merge adds the value only if it is absent, so disabling twice is
	// harmless.
	return command{name: "/usr/bin/dscl", args: []string{".", "-merge", "/Users/" + name, "AuthenticationAuthority", macDisabledTag}}
}

func macEnableCommand(name string) command {
	return command{name: "/usr/bin/dscl", args: []string{".", "-delete", "/Users/" + name, "AuthenticationAuthority", macDisabledTag}}
}

func macSetFullNameCommand(name, full string) command {
	return command{name: "/usr/bin/dscl", args: []string{".", "-create", "/Users/" + name, "RealName", full}}
}

// macListCommand reads every user record as a plist, because dscl's plain
// output cannot tell a value with spaces from several values.
func macListCommand() command {
	return command{name: "/usr/bin/dscl", args: []string{
		"-plist", ".", "-readall", "/Users",
		"RecordName", "UniqueID", "RealName", "UserShell", "AuthenticationAuthority",
	}}
}

// SetPassword resets name's password with sysadminctl, the password on its
// standard input.
func (m *MacOS) SetPassword(ctx context.Context, name, password string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := validatePassword(password, ""); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	if len(password) > macMaxPassword {
		return fmt.Errorf("set password for %q: %w: the password is longer than %d bytes, which macOS's password prompt would silently truncate",
			name, ErrInvalidInput, macMaxPassword)
	}
	if _, err := m.Get(ctx, name); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	in := append([]byte(password), '\n')
	defer clear(in)
	out, err := macSetPasswordCommand(name).run(ctx, m.run, in)
	if err != nil {
		return fmt.Errorf("set password for %q: %w", name, sysadminctlError(string(out), err))
	}
	if err := sysadminctlError(string(out), nil); err != nil {
		return fmt.Errorf("set password for %q: %w", name, err)
	}
	return nil
}

// Disable adds the DisabledUser marker.
func (m *MacOS) Disable(ctx context.Context, name string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	if _, err := m.Get(ctx, name); err != nil {
		return fmt.Errorf("disable %q: %w", name, err)
	}
	if _, err := macDisableCommand(name).run(ctx, m.run, nil); err != nil {
		return fmt.Errorf("disable %q: %w", name, dsclError(err))
	}
	return nil
}

// Enable removes the DisabledUser marker if it is there; dscl fails when
// asked to delete a value that is absent, so an enabled account is left
// alone.
func (m *MacOS) Enable(ctx context.Context, name string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	a, err := m.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("enable %q: %w", name, err)
	}
	if !a.Locked {
		return nil
	}
	if _, err := macEnableCommand(name).run(ctx, m.run, nil); err != nil {
		return fmt.Errorf("enable %q: %w", name, dsclError(err))
	}
	return nil
}

// SetFullName sets RealName.
func (m *MacOS) SetFullName(ctx context.Context, name, full string) error {
	if err := validateUnixName(name); err != nil {
		return fmt.Errorf("set full name: %w", err)
	}
	if err := validateFullName(full, ""); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	if _, err := m.Get(ctx, name); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, err)
	}
	if _, err := macSetFullNameCommand(name, full).run(ctx, m.run, nil); err != nil {
		return fmt.Errorf("set full name of %q: %w", name, dsclError(err))
	}
	return nil
}

// List returns every user record on the local node.
func (m *MacOS) List(ctx context.Context) ([]Account, error) {
	out, err := macListCommand().run(ctx, m.run, nil)
	if err != nil {
		return nil, fmt.Errorf("list local accounts: %w", dsclError(err))
	}
	accts, err := parseMacUsers(out)
	if err != nil {
		return nil, fmt.Errorf("list local accounts: %w", err)
	}
	return accts, nil
}

// Get returns the account called name. It reads the whole list because
// dscl -read fails outright on a record that lacks one of the requested
// attributes, and a missing RealName is common.
func (m *MacOS) Get(ctx context.Context, name string) (*Account, error) {
	accts, err := m.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", name, err)
	}
	for i := range accts {
		if accts[i].Name == name {
			return &accts[i], nil
		}
	}
	return nil, fmt.Errorf("get %q: %w on the local directory node", name, ErrNoSuchAccount)
}

// parseMacUsers turns dscl -plist -readall output into accounts.
func parseMacUsers(data []byte) ([]Account, error) {
	v, err := parsePlist(data)
	if err != nil {
		return nil, fmt.Errorf("parse dscl output: %w", err)
	}
	records, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("parse dscl output: want an array of user records, found %T", v)
	}
	out := make([]Account, 0, len(records))
	for _, r := range records {
		rec, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse dscl output: want a user record, found %T", r)
		}
		name := first(dsAttr(rec, "RecordName"))
		if name == "" {
			continue
		}
		a := Account{Name: name, FullName: first(dsAttr(rec, "RealName")), UID: -1}
		if uid, err := strconv.Atoi(first(dsAttr(rec, "UniqueID"))); err == nil {
			a.UID = uid
		}
		for _, auth := range dsAttr(rec, "AuthenticationAuthority") {
			if strings.Contains(auth, macDisabledTag) {
				a.Locked = true
			}
		}
		// nobody is -2 and a record without a UniqueID cannot log in, so
		// both fall below the first person's uid.
		a.System = a.UID < macFirstUserUID || strings.HasPrefix(name, "_") ||
			noLoginShell(first(dsAttr(rec, "UserShell")))
		out = append(out, a)
	}
	return out, nil
}

// dsAttr returns an attribute's values whether or not dscl kept the
// DirectoryService prefix on its name.
func dsAttr(rec map[string]any, key string) []string {
	for _, k := range []string{key, "dsAttrTypeStandard:" + key, "dsAttrTypeNative:" + key} {
		switch v := rec[k].(type) {
		case []any:
			var out []string
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
			return out
		case string:
			return []string{v}
		}
	}
	return nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// sysadminctlError reads sysadminctl's combined output for the failures it
// reports in text, and classifies err (which may be nil) in the caller's
// terms.
func sysadminctlError(out string, err error) error {
	low := strings.ToLower(out)
	switch {
	case strings.Contains(low, "-14165") || strings.Contains(low, "qualitycheck"):
		return fmt.Errorf("%w: %s", ErrPasswordPolicy, strings.TrimSpace(out))
	case strings.Contains(low, "-14136") || strings.Contains(low, "recordnotfound") || strings.Contains(low, "unknown user"):
		return fmt.Errorf("%w: %s", ErrNoSuchAccount, strings.TrimSpace(out))
	case strings.Contains(low, "secure token"):
		return fmt.Errorf("macOS will not reset this account's password without the secure token of an administrator (FileVault); reset it interactively with an admin's credentials: %s", strings.TrimSpace(out))
	case err != nil:
		return err
	case strings.Contains(low, "error") || strings.Contains(low, "not permitted") || strings.Contains(low, "fail"):
		return fmt.Errorf("sysadminctl reported a failure: %s", strings.TrimSpace(out))
	}
	return nil
}

// dsclError maps dscl's DirectoryService error names to the caller's terms.
func dsclError(err error) error {
	var ee *ExitError
	if !errors.As(err, &ee) {
		return err
	}
	msg := ee.Stderr + ee.Stdout
	switch {
	case strings.Contains(msg, "eDSRecordNotFound") || strings.Contains(msg, "-14136"):
		return fmt.Errorf("%w: %w", ErrNoSuchAccount, err)
	case strings.Contains(msg, "eDSPermissionError") || strings.Contains(msg, "-14120"):
		return fmt.Errorf("dscl was refused permission; the agent must run as root: %w", err)
	}
	return err
}

// parsePlist decodes an XML property list into []any, map[string]any,
// string (for string, integer, real, date and data) and bool: the subset
// dscl emits, without pulling in a plist library.
func parsePlist(data []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil, errors.New("no property list in the output")
		}
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local != "plist" {
			return plistValue(dec, se)
		}
	}
}

func plistValue(dec *xml.Decoder, start xml.StartElement) (any, error) {
	switch start.Name.Local {
	case "dict":
		m := make(map[string]any)
		key, haveKey := "", false
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				if t.Name.Local == "key" {
					if err := dec.DecodeElement(&key, &t); err != nil {
						return nil, err
					}
					haveKey = true
					continue
				}
				if !haveKey {
					return nil, fmt.Errorf("plist dict holds a <%s> with no <key>", t.Name.Local)
				}
				v, err := plistValue(dec, t)
				if err != nil {
					return nil, err
				}
				m[key], haveKey = v, false
			case xml.EndElement:
				return m, nil
			}
		}
	case "array":
		var a []any
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				v, err := plistValue(dec, t)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			case xml.EndElement:
				return a, nil
			}
		}
	case "string", "integer", "real", "date", "data":
		var s string
		if err := dec.DecodeElement(&s, &start); err != nil {
			return nil, err
		}
		return s, nil
	case "true", "false":
		if err := dec.Skip(); err != nil {
			return nil, err
		}
		return start.Name.Local == "true", nil
	}
	return nil, fmt.Errorf("unexpected plist element <%s>", start.Name.Local)
}
