package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	personal := []string{"jdoe", " Jane.Doe@Example.com "}
	tests := []struct {
		name   string
		policy Policy
		pw     string
		rules  []string
	}{
		{"good", DefaultPolicy(), "Tr0ut-Lantern-Okapi", nil},
		{"short", DefaultPolicy(), "Ab1!", []string{"min_length"}},
		{"short and one class", DefaultPolicy(), "abc", []string{"min_length", "classes"}},
		{"long", DefaultPolicy(), "Aa1!" + strings.Repeat("x", 253), []string{"max_length"}},
		{"at max", DefaultPolicy(), "Aa1!" + strings.Repeat("x", 252), nil},
		{"runes not bytes", DefaultPolicy(), "Ää1!ääääää", nil},
		{"runes not bytes short", DefaultPolicy(), "Ää1!äääää", []string{"min_length"}},
		{"two classes", DefaultPolicy(), "abcdefgh12345", []string{"classes"}},
		{"caseless script counts as letters", DefaultPolicy(), "日本語のパスワード12!", nil},
		{"common", DefaultPolicy(), "Password123!", []string{"common"}},
		{"common case-insensitive", DefaultPolicy(), "pASSWORD123!", []string{"common"}},
		{"common season", DefaultPolicy(), "Summer2024!", []string{"common"}},
		{"common walk short", DefaultPolicy(), "qwerty", []string{"min_length", "classes", "common"}},
		{"common allowed when off", Policy{MinLength: 1}, "qwerty", nil},
		{"username", DefaultPolicy(), " JDOE ", []string{"min_length", "classes", "personal"}},
		{"email", Policy{}, "jane.doe@example.COM", []string{"personal"}},
		{"email local part", Policy{}, "Jane.Doe", []string{"personal"}},
		{"contains username is fine", Policy{}, "jdoe-Rides-7-Bikes", nil},
		{"empty", DefaultPolicy(), "", []string{"min_length", "classes"}},
		{"four classes required", Policy{MinClasses: 4}, "abcD1234", []string{"classes"}},
		{"classes above four capped", Policy{MinClasses: 9}, "abcD123!", nil},
		{"zero policy", Policy{}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw, personal...)
			if tt.rules == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v, want *PolicyError", err)
			}
			var got []string
			for _, v := range pe.Violations {
				got = append(got, v.Rule)
				if v.Message == "" {
					t.Errorf("rule %s has no message", v.Rule)
				}
			}
			if !slices.Equal(got, tt.rules) {
				t.Errorf("rules = %v, want %v", got, tt.rules)
			}
		})
	}
}

func TestPolicyErrorMessage(t *testing.T) {
	err := DefaultPolicy().Check("abc")
	want := "password rejected: must be at least 10 characters long; must contain at least 3 of: lowercase letters, uppercase letters, digits, symbols"
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if got := ReuseViolation().Error(); got != "password rejected: must differ from your current password" {
		t.Errorf("ReuseViolation().Error() = %q", got)
	}
	if ReuseViolation().Violations[0].Rule != "reuse" {
		t.Errorf("ReuseViolation rule = %q", ReuseViolation().Violations[0].Rule)
	}
}

func TestIsCommon(t *testing.T) {
	for _, pw := range []string{"123456", "password", "QWERTY", "iloveyou", "Passw0rd!", "Welcome1", "Summer2024!", "winter2023", "1qaz2wsx", " letmein "} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false", pw)
		}
	}
	for _, pw := range []string{"", "Tr0ut-Lantern-Okapi", "#"} {
		if IsCommon(pw) {
			t.Errorf("IsCommon(%q) = true", pw)
		}
	}
	if n := len(commonSet()); n < 500 {
		t.Errorf("common list has %d entries, want at least 500", n)
	}
}
