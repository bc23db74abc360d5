package ldapfront

import (
	"regexp"
	"strings"
	"testing"
)

// TestSubschemaIsClosed: every attribute an object class names, and every
// superior, is defined in the same subschema.
func TestSubschemaIsClosed(t *testing.T) {
	names := map[string]bool{}
	nameRe := regexp.MustCompile(`NAME \( ((?:'[^']+' ?)+)\)|NAME '([^']+)'`)
	for _, d := range append(append([]string(nil), attributeTypes...), objectClasses...) {
		m := nameRe.FindStringSubmatch(d)
		if m == nil {
			t.Fatalf("no NAME in %s", d)
		}
		for _, n := range strings.Fields(strings.ReplaceAll(m[1]+m[2], "'", " ")) {
			names[strings.ToLower(n)] = true
		}
	}
	listRe := regexp.MustCompile(`(?:MUST|MAY|SUP) (\( [^)]+ \)|\S+)`)
	for _, d := range append(append([]string(nil), attributeTypes...), objectClasses...) {
		for _, m := range listRe.FindAllStringSubmatch(d, -1) {
			for _, n := range strings.Fields(strings.NewReplacer("(", " ", ")", " ", "$", " ").Replace(m[1])) {
				if !names[strings.ToLower(n)] {
					t.Errorf("%q is used in %s but not defined", n, d)
				}
			}
		}
	}
}
