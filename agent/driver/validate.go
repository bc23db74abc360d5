package driver

import (
	"fmt"
	"strings"
)

// maxNameLen bounds account names well above what any platform accepts, so
// a runaway value is refused here with a clear message rather than by a tool.
const maxNameLen = 256

// validateUnixName refuses names that a Unix account tool could misread: a
// leading '-' would be parsed as an option, ':' ',' and newlines are field
// separators in /etc/passwd, and '/' would change the meaning of a dscl
// path. What remains is the portable set that useradd accepts, plus '@' and
// a trailing '$' that Samba machine accounts use.
func validateUnixName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the account name is empty", ErrInvalidInput)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: the account name is longer than %d bytes", ErrInvalidInput, maxNameLen)
	case name[0] == '-':
		return fmt.Errorf("%w: account name %q starts with '-', which account tools read as an option", ErrInvalidInput, name)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not an account name", ErrInvalidInput, name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-' || r == '@' || (r == '$' && i == len(name)-1)
		if !ok {
			return fmt.Errorf("%w: account name %q contains %q; use letters, digits, '.', '_', '-' or '@'", ErrInvalidInput, name, r)
		}
	}
	return nil
}

// validatePassword refuses passwords that cannot be handed to a tool as one
// line of standard input. forbidden lists further characters the platform's
// input format reserves. The password itself never appears in the error.
func validatePassword(password, forbidden string) error {
	if password == "" {
		return fmt.Errorf("%w: the password is empty; to stop password logins, disable the account instead", ErrInvalidInput)
	}
	if i := strings.IndexAny(password, "\n\r\x00"+forbidden); i >= 0 {
		return fmt.Errorf("%w: the password contains %s, which the account tool's input format cannot carry; choose another password",
			ErrInvalidInput, describeChar(password[i]))
	}
	return nil
}

// validateFullName refuses full names with control characters, which no
// platform stores as part of a name, or any of forbidden, which the
// platform's account database uses as separators.
func validateFullName(full, forbidden string) error {
	for _, r := range full {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: full name %q contains a control character", ErrInvalidInput, full)
		}
	}
	if i := strings.IndexAny(full, forbidden); i >= 0 {
		return fmt.Errorf("%w: full name %q contains %s, which the account database uses as a separator",
			ErrInvalidInput, full, describeChar(full[i]))
	}
	return nil
}

// describeChar names a reserved character without quoting the secret it
// came from.
func describeChar(c byte) string {
	switch c {
	case '\n':
		return "a newline"
	case '\r':
		return "a carriage return"
	case 0:
		return "a NUL byte"
	default:
		return fmt.Sprintf("%q", c)
	}
}
