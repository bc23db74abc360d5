package schema

import (
	"sort"
	"strings"
)

// Lookup finds an attribute in a JSON object case-insensitively, as SCIM
// attribute names compare (RFC 7643 §2.1). The exact spelling wins; among
// other spellings the first in sorted order does, so that the answer never
// depends on map iteration order.
func Lookup(m map[string]any, name string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[name]; ok {
		return v, true
	}
	var keys []string
	for k := range m {
		if strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, false
	}
	sort.Strings(keys)
	return m[keys[0]], true
}

// DeepCopy copies the maps and lists of a JSON value, so that the copy
// shares no mutable memory with its source.
func DeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = DeepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = DeepCopy(e)
		}
		return l
	}
	return v
}
