package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonText is the built-in list of widely used passwords, one per line,
// compared case-insensitively.
//
//go:embed common.txt
var commonText string

// commonSet is built on first use so that programs that never check a policy
// do not pay for it; the map is never written after it is built.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(commonText, "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			set[strings.ToLower(l)] = struct{}{}
		}
	}
	return set
})

// IsCommon reports whether pw is on the built-in list of common passwords,
// ignoring case and surrounding spaces.
func IsCommon(pw string) bool {
	_, ok := commonSet()[strings.ToLower(strings.TrimSpace(pw))]
	return ok
}
