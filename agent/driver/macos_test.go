package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testdata/macos/users.plist is shaped after `dscl -plist . -readall
// /Users ...` output: records whose attribute names carry the
// dsAttrTypeStandard: prefix, one (bob) without it, multi-valued
// RecordName and AuthenticationAuthority, and records missing RealName or
// UserShell. It was written by hand, not captured from a Mac.
func readMacUsers(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "macos", "users.plist"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// macFake answers the list command with the fixture and everything else
// with out.
func macFake(t *testing.T, out string, err error) *fakeRunner {
	users := readMacUsers(t)
	list := macListCommand()
	return &fakeRunner{respond: func(c call) ([]byte, error) {
		if c.Name == list.name && reflect.DeepEqual(c.Args, list.args) {
			return users, nil
		}
		return []byte(out), err
	}}
}

func TestMacCommandBuilders(t *testing.T) {
	tests := []struct {
		name string
		got  command
		want command
	}{
		{"set password", macSetPasswordCommand("alice"), command{"/bin/sh", []string{
			"-c", `exec /usr/sbin/sysadminctl "$@" 2>&1`, "sh",
			"-resetPasswordFor", "alice", "-newPassword", "-"}}},
		{"disable", macDisableCommand("alice"), command{"/usr/bin/dscl", []string{
			".", "-merge", "/Users/alice", "AuthenticationAuthority", ";DisabledUser;"}}},
		{"enable", macEnableCommand("alice"), command{"/usr/bin/dscl", []string{
			".", "-delete", "/Users/alice", "AuthenticationAuthority", ";DisabledUser;"}}},
		{"full name", macSetFullNameCommand("alice", "Alice Liddell"), command{"/usr/bin/dscl", []string{
			".", "-create", "/Users/alice", "RealName", "Alice Liddell"}}},
		{"list", macListCommand(), command{"/usr/bin/dscl", []string{
			"-plist", ".", "-readall", "/Users",
			"RecordName", "UniqueID", "RealName", "UserShell", "AuthenticationAuthority"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}

func TestMacDriverRuns(t *testing.T) {
	const password = "correct horse battery staple"
	list := macListCommand()
	listCall := call{Name: list.name, Args: list.args}
	tests := []struct {
		name string
		do   func(context.Context, *MacOS) error
		want []call
	}{
		{
			name: "set password on stdin",
			do:   func(ctx context.Context, m *MacOS) error { return m.SetPassword(ctx, "alice", password) },
			want: []call{listCall, {
				Name:  "/bin/sh",
				Args:  macSetPasswordCommand("alice").args,
				Stdin: password + "\n",
			}},
		},
		{
			name: "disable merges the marker",
			do:   func(ctx context.Context, m *MacOS) error { return m.Disable(ctx, "alice") },
			want: []call{listCall, {Name: "/usr/bin/dscl", Args: macDisableCommand("alice").args}},
		},
		{
			name: "enable removes the marker from a disabled account",
			do:   func(ctx context.Context, m *MacOS) error { return m.Enable(ctx, "bob") },
			want: []call{listCall, {Name: "/usr/bin/dscl", Args: macEnableCommand("bob").args}},
		},
		{
			name: "enable leaves an enabled account alone",
			do:   func(ctx context.Context, m *MacOS) error { return m.Enable(ctx, "alice") },
			want: []call{listCall},
		},
		{
			name: "full name",
			do:   func(ctx context.Context, m *MacOS) error { return m.SetFullName(ctx, "carl", "Carl Sagan") },
			want: []call{listCall, {Name: "/usr/bin/dscl", Args: macSetFullNameCommand("carl", "Carl Sagan").args}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := macFake(t, "", nil)
			if err := tt.do(t.Context(), NewMacOS(r)); err != nil {
				t.Fatal(err)
			}
			got := r.recorded()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ran\n%+v\nwant\n%+v", got, tt.want)
			}
			assertSecretOnlyOnStdin(t, got, password)
		})
	}
}

func TestMacRefusesBeforeChanging(t *testing.T) {
	tests := []struct {
		name    string
		do      func(context.Context, *MacOS) error
		wantErr error
	}{
		{"unknown account", func(ctx context.Context, m *MacOS) error { return m.SetPassword(ctx, "mallory", "pw") }, ErrNoSuchAccount},
		{"unknown account disable", func(ctx context.Context, m *MacOS) error { return m.Disable(ctx, "mallory") }, ErrNoSuchAccount},
		{"path in name", func(ctx context.Context, m *MacOS) error { return m.Disable(ctx, "../Groups/admin") }, ErrInvalidInput},
		{"newline in password", func(ctx context.Context, m *MacOS) error { return m.SetPassword(ctx, "alice", "a\nb") }, ErrInvalidInput},
		{"password past _PASSWORD_LEN", func(ctx context.Context, m *MacOS) error {
			return m.SetPassword(ctx, "alice", strings.Repeat("x", 129))
		}, ErrInvalidInput},
		{"newline in full name", func(ctx context.Context, m *MacOS) error { return m.SetFullName(ctx, "alice", "A\nB") }, ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := macFake(t, "", nil)
			err := tt.do(t.Context(), NewMacOS(r))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			list := macListCommand()
			for _, c := range r.recorded() {
				if !reflect.DeepEqual(c.Args, list.args) {
					t.Errorf("ran %+v before refusing", c)
				}
			}
		})
	}
}

func TestMacSysadminctlFailuresAreErrorsEvenOnExitZero(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		exitErr error
		wantIs  error
		wantMsg string
	}{
		{name: "clean output", out: ""},
		{
			name:   "quality check",
			out:    "2026-11-22 12:00:00.000 sysadminctl[812:9001] ### Error:-14165 File:/AppleInternal/Library/BuildRoots/DSRecord.m Line:563 (eDSAuthPasswordQualityCheckFailed)\n",
			wantIs: ErrPasswordPolicy,
		},
		{
			name:    "secure token",
			out:     "2026-11-22 12:00:00.000 sysadminctl[812:9001] Operation is not permitted without secure token unlock.\n",
			wantMsg: "secure token",
		},
		{
			name:    "other error text",
			out:     "2026-11-22 12:00:00.000 sysadminctl[812:9001] ### Error:-14090 File:DSRecord.m Line:563\n",
			wantMsg: "sysadminctl reported a failure",
		},
		{
			name:    "non-zero exit",
			exitErr: &ExitError{Name: "/bin/sh", Code: 64, Stdout: "usage"},
			wantMsg: "exit status 64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewMacOS(macFake(t, tt.out, tt.exitErr)).SetPassword(t.Context(), "alice", "pw")
			if tt.wantIs == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestMacDsclFailures(t *testing.T) {
	notFound := &ExitError{Name: "/usr/bin/dscl", Code: 255, Stderr: "<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)\n"}
	err := NewMacOS(macFake(t, "", notFound)).Disable(t.Context(), "alice")
	if !errors.Is(err, ErrNoSuchAccount) {
		t.Errorf("err = %v, want ErrNoSuchAccount", err)
	}
	denied := &ExitError{Name: "/usr/bin/dscl", Code: 255, Stderr: "<main> attribute status: eDSPermissionError\n<dscl_cmd> DS Error: -14120 (eDSPermissionError)\n"}
	err = NewMacOS(macFake(t, "", denied)).SetFullName(t.Context(), "alice", "A")
	if err == nil || !strings.Contains(err.Error(), "must run as root") {
		t.Errorf("err = %v, want advice to run as root", err)
	}
}

func TestMacList(t *testing.T) {
	got, err := NewMacOS(macFake(t, "", nil)).List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{
		{Name: "root", FullName: "System Administrator", UID: 0, System: true},
		{Name: "nobody", UID: -2, System: true},
		{Name: "_www", FullName: "World Wide Web Server", UID: 70, System: true},
		{Name: "alice", FullName: "Alice Liddell", UID: 501},
		{Name: "bob", FullName: "Bob Dobbs", UID: 502, Locked: true},
		{Name: "carl", UID: 503},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}
}

func TestMacGetMissing(t *testing.T) {
	if _, err := NewMacOS(macFake(t, "", nil)).Get(t.Context(), "www"); !errors.Is(err, ErrNoSuchAccount) {
		t.Errorf("Get(www) err = %v; an alias is not the record name, want ErrNoSuchAccount", err)
	}
}

func TestParsePlistRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "not xml", "<plist><dict><string>no key</string></dict></plist>", "<plist><array><bogus/></array></plist>"} {
		if _, err := parseMacUsers([]byte(in)); err == nil {
			t.Errorf("parseMacUsers(%q) succeeded, want an error", in)
		}
	}
}
