package graphemu

import (
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"userPrincipalName eq 'a@b.com'", "userPrincipalName eq 'a@b.com'"},
		{"USERPRINCIPALNAME EQ 'a@b.com'", "userPrincipalName eq 'a@b.com'"},
		{"startswith(userPrincipalName,'ad')", "startswith(userPrincipalName,'ad')"},
		{"StartsWith( mail , 'x''y' )", "startswith(mail,'x''y')"},
		{"accountEnabled eq TRUE", "accountEnabled eq true"},
		{"a eq 'x' or b eq 'y'", ""}, // unknown properties
		{"mail eq 'a' or mail eq 'b' and accountEnabled eq false", "mail eq 'a' or (mail eq 'b' and accountEnabled eq false)"},
		{"(mail eq 'a' or mail eq 'b') and accountEnabled eq false", "(mail eq 'a' or mail eq 'b') and accountEnabled eq false"},
		{"((((displayName eq 'x'))))", "displayName eq 'x'"},
		{"mail eq 'a' and mail eq 'b' and mail eq 'c'", "mail eq 'a' and mail eq 'b' and mail eq 'c'"},
	}
	for _, tc := range tests {
		x, err := parseFilter(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseFilter(%q) = %v, want an error", tc.in, x)
		case tc.want != "" && err != nil:
			t.Errorf("parseFilter(%q): %v", tc.in, err)
		case tc.want != "" && x.String() != tc.want:
			t.Errorf("parseFilter(%q) = %q, want %q", tc.in, x.String(), tc.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in, code, msg string
	}{
		{"", "BadRequest", "empty"},
		{"mail eq 'open", "BadRequest", "unterminated"},
		{"mail eq 'a' mail", "BadRequest", "unexpected"},
		{"mail ne 'a'", "Request_UnsupportedQuery", "NotEqualsMatch"},
		{"mail eq null", "Request_UnsupportedQuery", "'mail'"},
		{"startswith(accountEnabled,'t')", "Request_UnsupportedQuery", "accountEnabled"},
		{"contains(mail,'a')", "Request_UnsupportedQuery", "contains"},
		{"frobnicate(mail,'a')", "BadRequest", "unknown function"},
		{strings.Repeat("(", 40) + "mail eq 'a'" + strings.Repeat(")", 40), "BadRequest", "nested too deeply"},
	}
	for _, tc := range tests {
		_, err := parseFilter(tc.in)
		if err == nil {
			t.Errorf("parseFilter(%q) succeeded", tc.in)
			continue
		}
		if err.code != tc.code || !strings.Contains(err.message, tc.msg) {
			t.Errorf("parseFilter(%q) = %v, want %s containing %q", tc.in, err, tc.code, tc.msg)
		}
	}
}

// FuzzParseFilter checks that no $filter makes the parser panic or loop, and that what it
// accepts prints back to a filter that parses to the same expression.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"userPrincipalName eq 'a@contoso.com'",
		"startswith(userPrincipalName,'adm')",
		"accountEnabled eq true and (mail eq 'x' or mail eq 'y')",
		"mail eq 'o''brien@contoso.com'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseFilter(s)
		if err != nil {
			if err.code == "" || err.message == "" {
				t.Fatalf("error without code or message for %q", s)
			}
			return
		}
		printed := x.String()
		y, err := parseFilter(printed)
		if err != nil {
			if strings.Contains(err.message, "nested too deeply") {
				return
			}
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if y.String() != printed {
			t.Fatalf("%q printed as %q, reparsed as %q", s, printed, y.String())
		}
	})
}
