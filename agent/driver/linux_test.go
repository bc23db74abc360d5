package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixedNow is the day the Linux fixtures are read on: after carol's expiry
// (day 19000, 2022) and with bob's expiry (day 1) long past.
var fixedNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newTestLinux(r Runner) *Linux {
	l := NewLinux(r, filepath.Join("testdata", "linux"))
	l.now = func() time.Time { return fixedNow }
	return l
}

func TestLinuxRunsTheDocumentedCommands(t *testing.T) {
	const password = "correct horse battery staple"
	tests := []struct {
		name string
		do   func(context.Context, *Linux) error
		want call
	}{
		{
			name: "set password through chpasswd stdin",
			do:   func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", password) },
			want: call{Name: "chpasswd", Stdin: "alice:" + password + "\n"},
		},
		{
			name: "disable locks and expires",
			do:   func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "alice") },
			want: call{Name: "usermod", Args: []string{"-L", "-e", "1", "alice"}},
		},
		{
			name: "enable unlocks and clears expiry",
			do:   func(ctx context.Context, l *Linux) error { return l.Enable(ctx, "bob") },
			want: call{Name: "usermod", Args: []string{"-U", "-e", "", "bob"}},
		},
		{
			name: "full name goes to GECOS",
			do: func(ctx context.Context, l *Linux) error {
				return l.SetFullName(ctx, "alice", "Alice Pleasance Liddell")
			},
			want: call{Name: "usermod", Args: []string{"-c", "Alice Pleasance Liddell", "alice"}},
		},
		{
			name: "empty full name clears GECOS",
			do:   func(ctx context.Context, l *Linux) error { return l.SetFullName(ctx, "alice", "") },
			want: call{Name: "usermod", Args: []string{"-c", "", "alice"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRunner{}
			if err := tt.do(t.Context(), newTestLinux(r)); err != nil {
				t.Fatal(err)
			}
			got := r.recorded()
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Fatalf("ran %+v, want exactly %+v", got, tt.want)
			}
			assertSecretOnlyOnStdin(t, got, password)
		})
	}
}

func TestLinuxRefusesBeforeRunningAnything(t *testing.T) {
	tests := []struct {
		name    string
		do      func(context.Context, *Linux) error
		wantErr error
	}{
		{"password with colon", func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", "a:b") }, ErrInvalidInput},
		{"password with newline", func(ctx context.Context, l *Linux) error {
			return l.SetPassword(ctx, "alice", "x\nroot:owned")
		}, ErrInvalidInput},
		{"password with CR", func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", "x\r") }, ErrInvalidInput},
		{"password with NUL", func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", "x\x00y") }, ErrInvalidInput},
		{"empty password", func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", "") }, ErrInvalidInput},
		{"name that is an option", func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "-R/tmp") }, ErrInvalidInput},
		{"name with colon", func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "ali:ce", "pw") }, ErrInvalidInput},
		{"name with space", func(ctx context.Context, l *Linux) error { return l.Enable(ctx, "al ice") }, ErrInvalidInput},
		{"name with slash", func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "../root") }, ErrInvalidInput},
		{"empty name", func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "") }, ErrInvalidInput},
		{"full name with colon", func(ctx context.Context, l *Linux) error { return l.SetFullName(ctx, "alice", "A:B") }, ErrInvalidInput},
		{"full name with newline", func(ctx context.Context, l *Linux) error { return l.SetFullName(ctx, "alice", "A\nB") }, ErrInvalidInput},
		{"full name with comma", func(ctx context.Context, l *Linux) error { return l.SetFullName(ctx, "alice", "Liddell, Alice") }, ErrInvalidInput},
		{"unknown account password", func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "mallory", "pw") }, ErrNoSuchAccount},
		{"unknown account disable", func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "mallory") }, ErrNoSuchAccount},
		{"unknown account enable", func(ctx context.Context, l *Linux) error { return l.Enable(ctx, "mallory") }, ErrNoSuchAccount},
		{"unknown account full name", func(ctx context.Context, l *Linux) error { return l.SetFullName(ctx, "mallory", "M") }, ErrNoSuchAccount},
		{"NIS line is not an account", func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "@netgroup") }, ErrNoSuchAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRunner{}
			err := tt.do(t.Context(), newTestLinux(r))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := r.recorded(); len(got) != 0 {
				t.Fatalf("ran %+v before refusing", got)
			}
		})
	}
}

func TestLinuxRefusalsDoNotEchoThePassword(t *testing.T) {
	err := newTestLinux(&fakeRunner{}).SetPassword(t.Context(), "alice", "s3cret:tail")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v; want a refusal that does not quote the password", err)
	}
}

func TestLinuxEnableRefusesToLeaveNoPassword(t *testing.T) {
	r := &fakeRunner{}
	err := newTestLinux(r).Enable(t.Context(), "newbie")
	if err == nil || !strings.Contains(err.Error(), "set a password first") {
		t.Fatalf("err = %v, want advice to set a password first", err)
	}
	if got := r.recorded(); len(got) != 0 {
		t.Fatalf("ran %+v", got)
	}
}

func TestLinuxMapsToolFailures(t *testing.T) {
	tests := []struct {
		name    string
		do      func(context.Context, *Linux) error
		exit    *ExitError
		wantIs  error
		wantMsg string
	}{
		{
			name:   "usermod exit 6 is no such account",
			do:     func(ctx context.Context, l *Linux) error { return l.Disable(ctx, "alice") },
			exit:   &ExitError{Name: "usermod", Code: 6, Stderr: "usermod: user 'alice' does not exist\n"},
			wantIs: ErrNoSuchAccount,
		},
		{
			name:    "usermod exit 1 is a lock or write failure",
			do:      func(ctx context.Context, l *Linux) error { return l.Enable(ctx, "bob") },
			exit:    &ExitError{Name: "usermod", Code: 1, Stderr: "usermod: cannot lock /etc/passwd; try again later.\n"},
			wantMsg: "retry",
		},
		{
			name:   "usermod exit 3 is invalid input",
			do:     func(ctx context.Context, l *Linux) error { return l.SetFullName(ctx, "alice", "x") },
			exit:   &ExitError{Name: "usermod", Code: 3, Stderr: "usermod: invalid field 'x'\n"},
			wantIs: ErrInvalidInput,
		},
		{
			name:   "pwquality rejection is a policy error",
			do:     func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", "password") },
			exit:   &ExitError{Name: "chpasswd", Code: 1, Stderr: "BAD PASSWORD: The password fails the dictionary check\nchpasswd: (line 1, user alice) password not changed\n"},
			wantIs: ErrPasswordPolicy,
		},
		{
			name:    "other chpasswd failures keep the tool's words",
			do:      func(ctx context.Context, l *Linux) error { return l.SetPassword(ctx, "alice", "pw") },
			exit:    &ExitError{Name: "chpasswd", Code: 1, Stderr: "chpasswd: (user alice) pam_chauthtok() failed, error:\nAuthentication token manipulation error\n"},
			wantMsg: "pam_chauthtok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRunner{respond: func(call) ([]byte, error) { return nil, tt.exit }}
			err := tt.do(t.Context(), newTestLinux(r))
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantMsg)
			}
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Errorf("err = %v does not carry the *ExitError", err)
			}
		})
	}
}

func TestLinuxList(t *testing.T) {
	got, err := newTestLinux(&fakeRunner{}).List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{
		{Name: "root", FullName: "root", UID: 0, System: true},
		{Name: "daemon", FullName: "daemon", UID: 1, System: true},
		{Name: "sshd", UID: 105, Locked: true, System: true},
		{Name: "nobody", FullName: "nobody", UID: 65534, System: true},
		{Name: "alice", FullName: "Alice Liddell", UID: 1000},
		{Name: "bob", FullName: "Bob Dobbs", UID: 1001, Locked: true},
		{Name: "carol", UID: 1002, Locked: true},
		{Name: "svc", FullName: "Batch service", UID: 1003, System: true},
		{Name: "newbie", UID: 1004, Locked: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLinuxGet(t *testing.T) {
	l := newTestLinux(&fakeRunner{})
	a, err := l.Get(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Account{Name: "alice", FullName: "Alice Liddell", UID: 1000}); *a != want {
		t.Errorf("Get = %+v, want %+v", *a, want)
	}
	if _, err := l.Get(t.Context(), "mallory"); !errors.Is(err, ErrNoSuchAccount) {
		t.Errorf("Get(mallory) err = %v, want ErrNoSuchAccount", err)
	}
}

func TestLinuxReadsUIDMinAndWorksWithoutShadow(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(etc, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("passwd", "old:!hash:600:600:Old Style:/home/old:/bin/sh\nnew:hash:2000:2000::/home/new:/bin/sh\n")
	write("login.defs", "# comment\nUID_MIN  1500\n")
	got, err := NewLinux(&fakeRunner{}, root).List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{
		{Name: "old", FullName: "Old Style", UID: 600, Locked: true, System: true},
		{Name: "new", UID: 2000},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
}

func TestParsePasswdReportsTheBadLine(t *testing.T) {
	_, err := parsePasswd([]byte("root:x:0:0:root:/root:/bin/bash\nbroken:x:1\n"), "/etc/passwd")
	if err == nil || !strings.Contains(err.Error(), "/etc/passwd line 2") {
		t.Fatalf("err = %v, want it to name /etc/passwd line 2", err)
	}
	_, err = parsePasswd([]byte("root:x:zero:0:root:/root:/bin/bash\n"), "/etc/passwd")
	if err == nil || !strings.Contains(err.Error(), "uid") {
		t.Fatalf("err = %v, want it to name the uid", err)
	}
}

func TestExpired(t *testing.T) {
	today := fixedNow.Unix() / 86400
	tests := []struct {
		expire string
		want   bool
	}{
		{"", false},
		{"0", false},
		{"1", true},
		{"junk", false},
		{strconv.FormatInt(today, 10), true},
		{strconv.FormatInt(today+1, 10), false},
	}
	for _, tt := range tests {
		if got := expired(tt.expire, fixedNow); got != tt.want {
			t.Errorf("expired(%q) = %v, want %v", tt.expire, got, tt.want)
		}
	}
}
