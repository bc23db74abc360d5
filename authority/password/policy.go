package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy describes which new passwords are acceptable.
type Policy struct {
	MinLength    int  // in characters (runes)
	MaxLength    int  // in characters (runes); 0 means no limit
	MinClasses   int  // of lowercase, uppercase, digits, symbols; at most 4 counts
	RejectCommon bool // reject passwords on the built-in common list
}

// DefaultPolicy returns the policy used unless an administrator configures
// another.
func DefaultPolicy() Policy {
	return Policy{MinLength: 10, MaxLength: 256, MinClasses: 3, RejectCommon: true}
}

// Violation is one rule a password failed. Message is written for the person
// choosing the password and is shown verbatim by every front end, so it reads
// as the predicate of "Your password ...".
type Violation struct {
	Rule    string // "min_length", "max_length", "classes", "common", "personal" or "reuse"
	Message string
}

// PolicyError lists every rule a password failed, so a user can fix them all
// at once instead of discovering them one by one.
type PolicyError struct {
	Violations []Violation
}

func (e *PolicyError) Error() string {
	msgs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		msgs[i] = v.Message
	}
	return "password rejected: " + strings.Join(msgs, "; ")
}

// ReuseViolation is the "reuse" rule's error. Check cannot detect reuse
// because it never sees the stored hash; callers that find the new password
// verifies against the current hash return this.
func ReuseViolation() *PolicyError {
	return &PolicyError{Violations: []Violation{{Rule: "reuse", Message: "must differ from your current password"}}}
}

// Check returns nil if pw satisfies the policy, or a *PolicyError listing
// every rule that failed. personal holds values the password must not equal
// (compared trimmed and case-insensitively), such as the user name and email
// addresses; the local part of an email address is refused as well.
func (p Policy) Check(pw string, personal ...string) error {
	var vs []Violation
	n := utf8.RuneCountInString(pw)
	if n < p.MinLength {
		vs = append(vs, Violation{"min_length", fmt.Sprintf("must be at least %d characters long", p.MinLength)})
	}
	if p.MaxLength > 0 && n > p.MaxLength {
		vs = append(vs, Violation{"max_length", fmt.Sprintf("must be at most %d characters long", p.MaxLength)})
	}
	if want := min(p.MinClasses, 4); want > 0 && charClasses(pw) < want {
		vs = append(vs, Violation{"classes", fmt.Sprintf("must contain at least %d of: lowercase letters, uppercase letters, digits, symbols", want)})
	}
	if p.RejectCommon && IsCommon(pw) {
		vs = append(vs, Violation{"common", "is one of the most commonly used passwords"})
	}
	if isPersonal(pw, personal) {
		vs = append(vs, Violation{"personal", "must not be the same as your username or email address"})
	}
	if len(vs) == 0 {
		return nil
	}
	return &PolicyError{Violations: vs}
}

// charClasses counts the character classes in pw. Letters from scripts
// without case count as lowercase, so users of those scripts can still reach
// three classes with letters, digits and symbols.
func charClasses(pw string) int {
	var lower, upper, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			upper = 1
		case unicode.IsLetter(r):
			lower = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			symbol = 1
		}
	}
	return lower + upper + digit + symbol
}

func isPersonal(pw string, personal []string) bool {
	pw = strings.TrimSpace(pw)
	if pw == "" {
		return false
	}
	for _, v := range personal {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if strings.EqualFold(pw, v) {
			return true
		}
		if at := strings.LastIndexByte(v, '@'); at > 0 && strings.EqualFold(pw, strings.TrimSpace(v[:at])) {
			return true
		}
	}
	return false
}

// Describe lists the policy's rules in the same words Check uses, for
// forms that explain them before anyone submits a password.
func (p Policy) Describe() []string {
	var out []string
	if p.MinLength > 0 {
		out = append(out, fmt.Sprintf("at least %d characters long", p.MinLength))
	}
	if want := min(p.MinClasses, 4); want > 0 {
		out = append(out, fmt.Sprintf("at least %d of: lowercase letters, uppercase letters, digits, symbols", want))
	}
	if p.RejectCommon {
		out = append(out, "not one of the most commonly used passwords")
	}
	out = append(out, "not your username or email address", "different from your current password")
	return out
}
