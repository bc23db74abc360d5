package driver

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the platform-neutral half of the Windows driver: the
// NetUser* structures, flag arithmetic and status codes. It is untagged so
// that the logic is tested on every platform, not only on Windows.

// Values from lmaccess.h and lmerr.h.
const (
	ufScript         = 0x0001 // must be set in every flags write
	ufAccountDisable = 0x0002
	ufLockout        = 0x0010 // may be cleared, never set

	filterNormalAccount = 0x0002
	maxPreferredLength  = 0xFFFFFFFF

	errorAccessDenied     = 5
	errorInvalidPassword  = 86
	errorInvalidParameter = 87
	errorMoreData         = 234
	nerrBadPassword       = 2203
	nerrUserNotFound      = 2221
	nerrPasswordTooShort  = 2245
	nerrLastAdmin         = 2452

	// pwLen is PWLEN, the longest password NetUserSetInfo accepts.
	pwLen = 256
	// winMaxName is the longest local user name Windows accepts.
	winMaxName = 20
	// winFirstUserRID is where Windows numbers the accounts it creates for
	// people; built-ins (Administrator 500, Guest 501, DefaultAccount 503,
	// WDAGUtilityAccount 504) sit below it.
	winFirstUserRID = 1000
)

// userInfo1003 mirrors USER_INFO_1003, the level that sets a password.
type userInfo1003 struct {
	Password *uint16
}

// userInfo1008 mirrors USER_INFO_1008, the level that sets account flags.
type userInfo1008 struct {
	Flags uint32
}

// userInfo1011 mirrors USER_INFO_1011, the level that sets the full name.
type userInfo1011 struct {
	FullName *uint16
}

// userInfo20 mirrors USER_INFO_20, the level NetUserEnum and NetUserGetInfo
// return: enough to build an Account without touching password data.
type userInfo20 struct {
	Name     *uint16
	FullName *uint16
	Comment  *uint16
	Flags    uint32
	UserID   uint32
}

// accountFlags computes the flags to write for Disable (disable true) or
// Enable. UF_SCRIPT is forced on because NetUserSetInfo requires it;
// Enable also clears a bad-password lockout, since the caller asked for the
// account to be usable again.
func accountFlags(current uint32, disable bool) uint32 {
	f := current | ufScript
	if disable {
		return f | ufAccountDisable
	}
	return f &^ (ufAccountDisable | ufLockout)
}

// windowsAccount builds an Account from one USER_INFO_20 record.
func windowsAccount(name, full string, flags, rid uint32) Account {
	return Account{
		Name:     name,
		FullName: full,
		UID:      int(rid),
		Locked:   flags&(ufAccountDisable|ufLockout) != 0,
		System:   rid < winFirstUserRID,
	}
}

// utf16z encodes s as a NUL-terminated UTF-16 string, refusing an embedded
// NUL, which Windows would read as the end of the value.
func utf16z(s string) ([]uint16, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("%w: the value contains a NUL byte", ErrInvalidInput)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: the value is not valid UTF-8", ErrInvalidInput)
	}
	return append(utf16.Encode([]rune(s)), 0), nil
}

// validateWindowsName applies the rules Windows documents for local user
// names, so a bad name is refused with the reason instead of a bare
// ERROR_INVALID_PARAMETER.
func validateWindowsName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the account name is empty", ErrInvalidInput)
	case utf8.RuneCountInString(name) > winMaxName:
		return fmt.Errorf("%w: account name %q is longer than %d characters", ErrInvalidInput, name, winMaxName)
	case strings.Trim(name, ". ") == "":
		return fmt.Errorf("%w: account name %q is only dots and spaces", ErrInvalidInput, name)
	}
	for _, r := range name {
		if r < 0x20 || strings.ContainsRune(`"/\[]:;|=,+*?<>`, r) {
			return fmt.Errorf("%w: account name %q contains %q, which Windows does not allow in user names", ErrInvalidInput, name, r)
		}
	}
	return nil
}

// validateWindowsPassword refuses what NetUserSetInfo would reject or
// truncate.
func validateWindowsPassword(password string) error {
	if err := validatePassword(password, ""); err != nil {
		return err
	}
	if len(utf16.Encode([]rune(password))) > pwLen {
		return fmt.Errorf("%w: the password is longer than %d characters, the most Windows accepts", ErrInvalidInput, pwLen)
	}
	return nil
}

// netStatusError turns a NET_API_STATUS into the caller's terms.
func netStatusError(status uint32) error {
	switch status {
	case 0:
		return nil
	case nerrUserNotFound:
		return fmt.Errorf("%w (NERR_UserNotFound)", ErrNoSuchAccount)
	case nerrPasswordTooShort:
		return fmt.Errorf("%w: it is too short, too simple or was used recently (NERR_PasswordTooShort)", ErrPasswordPolicy)
	case errorInvalidPassword, nerrBadPassword:
		return fmt.Errorf("%w: Windows rejected the password as malformed (status %d)", ErrInvalidInput, status)
	case errorAccessDenied:
		return fmt.Errorf("access denied: the agent must run as LocalSystem or an administrator (ERROR_ACCESS_DENIED)")
	case nerrLastAdmin:
		return fmt.Errorf("windows refused: this is the last enabled administrator account (NERR_LastAdmin)")
	case errorInvalidParameter:
		return fmt.Errorf("%w: Windows rejected a parameter (ERROR_INVALID_PARAMETER)", ErrInvalidInput)
	}
	return fmt.Errorf("NetUser call failed with NET_API_STATUS %d", status)
}
