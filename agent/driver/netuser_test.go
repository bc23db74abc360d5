package driver

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func TestAccountFlags(t *testing.T) {
	const (
		ufNormalAccount   = 0x0200
		ufDontExpirePassw = 0x10000
	)
	tests := []struct {
		name    string
		current uint32
		disable bool
		want    uint32
	}{
		{"disable sets the bit and UF_SCRIPT", ufNormalAccount, true, ufNormalAccount | ufScript | ufAccountDisable},
		{"disable keeps other flags", ufScript | ufNormalAccount | ufDontExpirePassw, true, ufScript | ufNormalAccount | ufDontExpirePassw | ufAccountDisable},
		{"disable twice is stable", ufScript | ufAccountDisable, true, ufScript | ufAccountDisable},
		{"enable clears disable and lockout", ufScript | ufNormalAccount | ufAccountDisable | ufLockout, false, ufScript | ufNormalAccount},
		{"enable keeps other flags", ufNormalAccount | ufDontExpirePassw, false, ufScript | ufNormalAccount | ufDontExpirePassw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := accountFlags(tt.current, tt.disable); got != tt.want {
				t.Errorf("accountFlags(%#x, %v) = %#x, want %#x", tt.current, tt.disable, got, tt.want)
			}
		})
	}
}

func TestWindowsAccount(t *testing.T) {
	tests := []struct {
		name, full string
		flags, rid uint32
		want       Account
	}{
		{"Administrator", "", ufScript, 500, Account{Name: "Administrator", UID: 500, System: true}},
		{"Guest", "", ufScript | ufAccountDisable, 501, Account{Name: "Guest", UID: 501, Locked: true, System: true}},
		{"DefaultAccount", "", ufAccountDisable, 503, Account{Name: "DefaultAccount", UID: 503, Locked: true, System: true}},
		{"WDAGUtilityAccount", "", ufAccountDisable, 504, Account{Name: "WDAGUtilityAccount", UID: 504, Locked: true, System: true}},
		{"ada", "Ada Lovelace", ufScript, 1001, Account{Name: "ada", FullName: "Ada Lovelace", UID: 1001}},
		{"locked out", "", ufScript | ufLockout, 1002, Account{Name: "locked out", UID: 1002, Locked: true}},
	}
	for _, tt := range tests {
		if got := windowsAccount(tt.name, tt.full, tt.flags, tt.rid); got != tt.want {
			t.Errorf("windowsAccount(%q) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// The NetUser structures are handed to netapi32.dll as raw memory, so their
// layout must match lmaccess.h on every Windows architecture.
func TestNetUserStructLayout(t *testing.T) {
	ptr := unsafe.Sizeof(uintptr(0))
	if got := unsafe.Sizeof(userInfo1003{}); got != ptr {
		t.Errorf("USER_INFO_1003 is %d bytes, want one pointer (%d)", got, ptr)
	}
	if got := unsafe.Sizeof(userInfo1008{}); got != 4 {
		t.Errorf("USER_INFO_1008 is %d bytes, want one DWORD", got)
	}
	if got := unsafe.Sizeof(userInfo1011{}); got != ptr {
		t.Errorf("USER_INFO_1011 is %d bytes, want one pointer (%d)", got, ptr)
	}
	var u userInfo20
	if got, want := unsafe.Offsetof(u.Flags), 3*ptr; got != want {
		t.Errorf("USER_INFO_20 flags at offset %d, want %d", got, want)
	}
	if got, want := unsafe.Offsetof(u.UserID), 3*ptr+4; got != want {
		t.Errorf("USER_INFO_20 user_id at offset %d, want %d", got, want)
	}
}

func TestUTF16Z(t *testing.T) {
	got, err := utf16z("Zoë😀")
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint16{'Z', 'o', 0xeb, 0xd83d, 0xde00, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("utf16z = %#x, want %#x", got, want)
	}
	if _, err := utf16z("a\x00b"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("embedded NUL: err = %v, want ErrInvalidInput", err)
	}
	if _, err := utf16z("\xff"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("invalid UTF-8: err = %v, want ErrInvalidInput", err)
	}
}

func TestValidateWindowsName(t *testing.T) {
	for _, ok := range []string{"ada", "John Smith", "svc-backup", "Zoë", strings.Repeat("a", 20)} {
		if err := validateWindowsName(ok); err != nil {
			t.Errorf("validateWindowsName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", `a\b`, "a:b", "a*", "a,b", "...", " . ", "tab\t", strings.Repeat("a", 21)} {
		if err := validateWindowsName(bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("validateWindowsName(%q) = %v, want ErrInvalidInput", bad, err)
		}
	}
}

func TestValidateWindowsPassword(t *testing.T) {
	if err := validateWindowsPassword(strings.Repeat("x", pwLen)); err != nil {
		t.Errorf("%d characters: %v, want nil", pwLen, err)
	}
	if err := validateWindowsPassword("a:b c"); err != nil {
		t.Errorf("colon and space: %v, want nil; Windows passwords may contain both", err)
	}
	// A character outside the BMP takes two UTF-16 units of PWLEN.
	for _, bad := range []string{"", strings.Repeat("x", pwLen+1), strings.Repeat("😀", pwLen/2+1), "a\x00b"} {
		if err := validateWindowsPassword(bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("validateWindowsPassword(len %d) = %v, want ErrInvalidInput", len(bad), err)
		}
	}
}

func TestNetStatusError(t *testing.T) {
	if err := netStatusError(0); err != nil {
		t.Errorf("status 0 = %v, want nil", err)
	}
	tests := []struct {
		status  uint32
		wantIs  error
		wantMsg string
	}{
		{nerrUserNotFound, ErrNoSuchAccount, "NERR_UserNotFound"},
		{nerrPasswordTooShort, ErrPasswordPolicy, "NERR_PasswordTooShort"},
		{errorInvalidPassword, ErrInvalidInput, "malformed"},
		{errorAccessDenied, nil, "LocalSystem or an administrator"},
		{nerrLastAdmin, nil, "last enabled administrator"},
		{12345, nil, "NET_API_STATUS 12345"},
	}
	for _, tt := range tests {
		err := netStatusError(tt.status)
		if err == nil {
			t.Errorf("status %d = nil, want an error", tt.status)
			continue
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("status %d = %v, want errors.Is %v", tt.status, err, tt.wantIs)
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("status %d = %v, want it to mention %q", tt.status, err, tt.wantMsg)
		}
	}
}
