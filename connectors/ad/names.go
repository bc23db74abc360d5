package ad

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
)

// maxSAMAccountName is AD's limit for a user's sAMAccountName, in UTF-16
// code units: the pre-Windows 2000 logon name. Longer names are refused by
// the DC (and by Windows' logon screens), so logins are cut to it.
const maxSAMAccountName = 20

// Upper bounds of the schema (rangeUpper) for the attributes Headwater
// writes. A longer value is refused by the DC with a bare constraint
// violation; Check says which field is too long instead.
const (
	maxCN          = 64
	maxGivenName   = 64
	maxSN          = 64
	maxDisplayName = 256
	maxMail        = 256
	maxUPN         = 1024
)

// samIllegal are the characters AD refuses in a sAMAccountName.
const samIllegal = `"/\[]:;|=,+*?<>@`

// samAccountName derives the pre-Windows 2000 logon name from a login: its
// local part, with the characters AD refuses removed, white space turned
// into dots, and cut to 20 characters. ok is false when nothing usable is
// left (a login made only of refused characters, dots or spaces).
func samAccountName(login string) (name string, cut bool, ok bool) {
	local := login
	if i := strings.LastIndexByte(login, '@'); i >= 0 {
		local = login[:i]
	}
	var b strings.Builder
	for _, r := range local {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte('.')
		case strings.ContainsRune(samIllegal, r), unicode.IsControl(r), r == unicode.ReplacementChar:
			continue
		default:
			b.WriteRune(r)
		}
	}
	// AD refuses a name of only dots and spaces, and a trailing dot makes
	// a name Windows cannot type at its logon prompt.
	s := strings.Trim(b.String(), ". ")
	units := 0
	for i, r := range s {
		n := utf16.RuneLen(r)
		if units+n > maxSAMAccountName {
			s, cut = strings.TrimRight(s[:i], ". "), true
			break
		}
		units += n
	}
	if s == "" {
		return "", cut, false
	}
	return s, cut, true
}

// upnOf is the userPrincipalName for a login: the login itself when it has
// a domain, else the login at the directory's UPN suffix.
func upnOf(login, suffix string) string {
	if strings.Contains(login, "@") {
		return login
	}
	return login + "@" + suffix
}

// checkUPN says why AD would refuse or mangle upn; nil when it is usable.
func checkUPN(upn string) error {
	local, domain, ok := strings.Cut(upn, "@")
	switch {
	case !ok || local == "" || domain == "":
		return fmt.Errorf("login %q is not of the form name@domain", upn)
	case strings.Contains(domain, "@"):
		return fmt.Errorf("login %q has more than one @", upn)
	case len(upn) > maxUPN:
		return fmt.Errorf("login %q is longer than AD's %d characters for a user principal name", upn, maxUPN)
	}
	for _, r := range upn {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("login %q contains white space or a control character, which AD does not allow in a user principal name", upn)
		}
	}
	if !isDNSName(domain) {
		return fmt.Errorf("login %q: %q is not a DNS domain name", upn, domain)
	}
	return nil
}

func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// commonName is the cn (and so the RDN) of a new account: the display name,
// else the given and family names, else the account name. AD limits cn to
// 64 characters; a longer display name is kept whole in displayName.
func commonName(displayName, given, family, sam string) string {
	cn := strings.TrimSpace(displayName)
	if cn == "" {
		cn = strings.TrimSpace(strings.TrimSpace(given) + " " + strings.TrimSpace(family))
	}
	if cn == "" {
		cn = sam
	}
	return truncateUTF16(cn, maxCN)
}

// truncateUTF16 cuts s to n UTF-16 code units, AD's measure of length.
func truncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func lenUTF16(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// uniqueCN is the n-th candidate cn for an account whose cn is taken in
// its OU: "Ada Lovelace", "Ada Lovelace (2)", ... cut so that the suffix
// fits in 64 characters.
func uniqueCN(cn string, n int) string {
	if n <= 1 {
		return cn
	}
	suffix := fmt.Sprintf(" (%d)", n)
	return truncateUTF16(cn, maxCN-len(suffix)) + suffix
}

// encodePassword is the value AD wants in unicodePwd: the password in
// double quotes, as UTF-16LE.
func encodePassword(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// guidString formats an objectGUID as AD shows it: the first three fields
// are little-endian in the binary form.
func guidString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), nil
}

// parseGUID is the inverse of guidString; ok is false for anything that is
// not a GUID in that form.
func parseGUID(s string) ([]byte, bool) {
	s = strings.Trim(strings.TrimSpace(s), "{}")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		return nil, false
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(b[8:], raw[8:])
	return b, true
}

// guidFilter matches the object with a binary objectGUID.
func guidFilter(b []byte) string {
	var sb strings.Builder
	sb.WriteString("(objectGUID=")
	for _, c := range b {
		fmt.Fprintf(&sb, `\%02x`, c)
	}
	sb.WriteString(")")
	return sb.String()
}

// fileTime converts an AD timestamp (100 ns intervals since 1601-01-01
// UTC, as in pwdLastSet) to a time; zero and "never" give the zero time.
func fileTime(v int64) time.Time {
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	if v <= 0 || v == 1<<63-1 {
		return time.Time{}
	}
	return time.Unix(0, (v-epochDiff)*100).UTC()
}

// ridOf returns the relative id (last sub-authority) of a binary SID.
func ridOf(sid []byte) (uint32, bool) {
	if len(sid) < 8 {
		return 0, false
	}
	n := int(sid[1])
	if len(sid) != 8+4*n || n == 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(sid[len(sid)-4:]), true
}
