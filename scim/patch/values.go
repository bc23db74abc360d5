package patch

import (
	"fmt"
	"strings"

	"github.com/headwater/headwater/scim/schema"
)

// Attribute names in SCIM are case-insensitive; these helpers find keys in
// any case and keep the client's spelling out of the stored form.

func lookup(m map[string]any, name string) (any, bool) { return schema.Lookup(m, name) }

func get(m map[string]any, name string) any {
	v, _ := lookup(m, name)
	return v
}

// set replaces the attribute under whatever case it had.
func set(m map[string]any, name string, v any) {
	for k := range m {
		if strings.EqualFold(k, name) && k != name {
			delete(m, k)
		}
	}
	m[name] = v
}

func del(m map[string]any, name string) {
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// deepCopy copies a JSON value; a nil copies as an empty list, which is
// what a multi-valued attribute's absent value stands for here.
func deepCopy(v any) any {
	if v == nil {
		return []any(nil)
	}
	return schema.DeepCopy(v)
}

// identity is what makes two values of a multi-valued attribute the same
// value: the "value" sub-attribute for complex ones (case-insensitively),
// the value itself otherwise.
func identity(v any) string {
	if m, ok := v.(map[string]any); ok {
		if val, ok := lookup(m, "value"); ok {
			return strings.ToLower(fmt.Sprint(val))
		}
		return fmt.Sprint(m)
	}
	return strings.ToLower(fmt.Sprint(v))
}

// dedupe keeps the last of equal values, so an add can update an entry.
func dedupe(list []any) []any {
	pos := map[string]int{}
	var out []any
	for _, v := range list {
		id := identity(v)
		if i, ok := pos[id]; ok {
			out[i] = v
			continue
		}
		pos[id] = len(out)
		out = append(out, v)
	}
	return out
}

// normalizePrimary keeps at most one primary value: the one just written
// wins (RFC 7644 §3.5.2: setting primary true unsets the others).
func normalizePrimary(c map[string]any, name string, added []any) {
	var winner string
	for _, v := range added {
		if m, ok := v.(map[string]any); ok && get(m, "primary") == true {
			winner = identity(m)
		}
	}
	if winner == "" {
		return
	}
	list, _ := get(c, name).([]any)
	for _, v := range list {
		if m, ok := v.(map[string]any); ok && identity(m) != winner {
			if get(m, "primary") == true {
				set(m, "primary", false)
			}
		}
	}
}

func removeListed(c map[string]any, name string, values []any) {
	drop := map[string]bool{}
	for _, v := range values {
		drop[identity(v)] = true
	}
	list, _ := get(c, name).([]any)
	var kept []any
	for _, v := range list {
		if !drop[identity(v)] {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		del(c, name)
		return
	}
	set(c, name, kept)
}

func hasSchema(v any, urn string) bool {
	list, _ := v.([]any)
	for _, s := range list {
		if str, ok := s.(string); ok && strings.EqualFold(str, urn) {
			return true
		}
	}
	return false
}

func addSchema(res map[string]any, urn string) {
	list, _ := get(res, "schemas").([]any)
	if hasSchema(list, urn) {
		return
	}
	set(res, "schemas", append(list, urn))
}
