package ad

import (
	"strings"
	"testing"
	"time"
)

func TestSAMAccountName(t *testing.T) {
	cases := []struct {
		login, want string
		cut, ok     bool
	}{
		{"ada@example.com", "ada", false, true},
		{"ada.lovelace", "ada.lovelace", false, true},
		{"Ada Lovelace@example.com", "Ada.Lovelace", false, true},
		{`a"b/c\d[e]f:g;h|i=j,k+l*m?n<o>p@example.com`, "abcdefghijklmnop", false, true},
		{"12345678901234567890@x.com", "12345678901234567890", false, true},
		{"123456789012345678901@x.com", "12345678901234567890", true, true},
		{"firstname.lastnamex.more@x.com", "firstname.lastnamex", true, true},
		{".hidden.@x.com", "hidden", false, true},
		{"zoë.müller@x.com", "zoë.müller", false, true},
		{"ünïcödé-ünïcödé-ünïcödé@x.com", "ünïcödé-ünïcödé-ünïc", true, true},
		{"😀😀😀😀😀😀😀😀😀😀😀@x.com", "😀😀😀😀😀😀😀😀😀😀", true, true}, // 2 UTF-16 units each
		{"*?[]@x.com", "", false, false},
		{"...@x.com", "", false, false},
		{"@x.com", "", false, false},
		{"a\x00b\tc@x.com", "ab.c", false, true},
	}
	for _, tc := range cases {
		got, cut, ok := samAccountName(tc.login)
		if got != tc.want || cut != tc.cut || ok != tc.ok {
			t.Errorf("samAccountName(%q) = %q, %v, %v; want %q, %v, %v", tc.login, got, cut, ok, tc.want, tc.cut, tc.ok)
		}
		if ok && (lenUTF16(got) > maxSAMAccountName || strings.ContainsAny(got, samIllegal)) {
			t.Errorf("samAccountName(%q) = %q breaks AD's rules", tc.login, got)
		}
	}
}

func TestCheckUPN(t *testing.T) {
	for upn, ok := range map[string]bool{
		"ada@example.com":          true,
		"ada.lovelace@sub.ex.com":  true,
		"ada":                      false,
		"ada@":                     false,
		"@example.com":             false,
		"a@b@example.com":          false,
		"ada lovelace@example.com": false,
		"ada@exa mple.com":         false,
		"ada@-example.com":         false,
	} {
		if err := checkUPN(upn); (err == nil) != ok {
			t.Errorf("checkUPN(%q) = %v, want ok=%v", upn, err, ok)
		}
	}
}

func TestCommonName(t *testing.T) {
	if got := commonName(" Ada Lovelace ", "A", "L", "ada"); got != "Ada Lovelace" {
		t.Errorf("display name: %q", got)
	}
	if got := commonName("", "Ada", "Lovelace", "ada"); got != "Ada Lovelace" {
		t.Errorf("given and family: %q", got)
	}
	if got := commonName("", "", "", "ada"); got != "ada" {
		t.Errorf("account name: %q", got)
	}
	long := strings.Repeat("x", 100)
	if got := commonName(long, "", "", "x"); lenUTF16(got) != maxCN {
		t.Errorf("a 100-character display name gives a cn of %d", lenUTF16(got))
	}
	if got := uniqueCN(long[:maxCN], 12); lenUTF16(got) != maxCN || !strings.HasSuffix(got, " (12)") {
		t.Errorf("uniqueCN = %q (%d)", got, lenUTF16(got))
	}
	if got := uniqueCN("Ada", 1); got != "Ada" {
		t.Errorf("uniqueCN(1) = %q", got)
	}
}

func TestGUID(t *testing.T) {
	// objectGUID bytes as AD stores them, and the string AD shows.
	raw := []byte{0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78}
	const s = "12345678-1234-5678-9abc-def012345678"
	got, err := guidString(raw)
	if err != nil || got != s {
		t.Fatalf("guidString = %q, %v; want %s", got, err, s)
	}
	back, ok := parseGUID(strings.ToUpper("{" + s + "}"))
	if !ok || string(back) != string(raw) {
		t.Errorf("parseGUID = %x, %v; want %x", back, ok, raw)
	}
	for _, bad := range []string{"", "connectortest-no-such-account", "12345678-1234-5678-9abc-def01234567z", "12345678123456789abcdef012345678"} {
		if _, ok := parseGUID(bad); ok {
			t.Errorf("parseGUID(%q) accepted it", bad)
		}
	}
	if f := guidFilter(raw); f != `(objectGUID=\78\56\34\12\34\12\78\56\9a\bc\de\f0\12\34\56\78)` {
		t.Errorf("guidFilter = %s", f)
	}
}

func TestEncodePassword(t *testing.T) {
	got := encodePassword("pé")
	want := "\x22\x00p\x00\xe9\x00\x22\x00"
	if got != want {
		t.Errorf("encodePassword = %q, want %q", got, want)
	}
}

func TestFileTime(t *testing.T) {
	if !fileTime(0).IsZero() || !fileTime(1<<63-1).IsZero() {
		t.Error("0 and never must be the zero time")
	}
	// 2024-01-01T00:00:00Z
	if got := fileTime(133485408000000000); !got.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("fileTime = %v", got)
	}
}
