package filter

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/headwater/headwater/scim/schema"
)

// Match reports whether the resource matches the filter. The resource is
// as encoding/json decodes it with UseNumber: core attributes at the top
// level, extension attributes in an object under the extension's URN, and
// keys in any case. Values of the wrong JSON type for their attribute
// simply do not match.
func Match(rt *schema.ResourceType, e Expr, res map[string]any) bool {
	return evaluator{rt: rt}.match(e, res, false)
}

// MatchValue reports whether one element of the multi-valued complex
// attribute attr matches a value filter, such as the Filter of a ValuePath
// or of a PATCH Path. Paths in f name sub-attributes of the element: by
// Sub, or by Attr when Sub is nil.
func MatchValue(rt *schema.ResourceType, attr schema.Path, f Expr, elem map[string]any) bool {
	return evaluator{rt: rt, attr: attr.Attr}.match(f, elem, true)
}

type evaluator struct {
	rt   *schema.ResourceType
	attr *schema.Attribute // the attribute whose element is evaluated, for MatchValue
}

// match evaluates e against obj, a resource or, when elem is true, one
// element of a multi-valued complex attribute.
func (ev evaluator) match(e Expr, obj map[string]any, elem bool) bool {
	switch e := e.(type) {
	case *Compare:
		return compare(e, ev.get(e.Path, obj, elem))
	case *Present:
		return present(ev.get(e.Path, obj, elem))
	case *And:
		return ev.match(e.Left, obj, elem) && ev.match(e.Right, obj, elem)
	case *Or:
		return ev.match(e.Left, obj, elem) || ev.match(e.Right, obj, elem)
	case *Not:
		return !ev.match(e.X, obj, elem)
	case *ValuePath:
		if elem {
			return false // value filters do not nest; only a hand-built AST gets here
		}
		for _, el := range elements(ev.get(e.Attr, obj, false)) {
			if m, ok := el.(map[string]any); ok && ev.match(e.Filter, m, true) {
				return true
			}
		}
	}
	return false
}

// get returns the value a path names: for a sub-attribute of a
// multi-valued attribute, the sub-attribute of every element as a slice.
func (ev evaluator) get(p schema.Path, obj map[string]any, elem bool) any {
	if p.Attr == nil {
		return nil
	}
	if elem {
		name := p.Attr.Name
		if p.Sub != nil {
			name = p.Sub.Name
		} else if ev.attr != nil && p.Attr == ev.attr {
			return nil // the element itself is not a sub-attribute of itself
		}
		return lookup(obj, name)
	}
	container := obj
	if p.Schema != nil && ev.rt != nil && p.Schema != ev.rt.Core {
		container, _ = lookup(obj, p.Schema.ID).(map[string]any)
	}
	v := lookup(container, p.Attr.Name)
	if p.Sub == nil {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		return lookup(v, p.Sub.Name)
	case []any:
		out := make([]any, 0, len(v))
		for _, el := range v {
			if m, ok := el.(map[string]any); ok {
				if sv := lookup(m, p.Sub.Name); sv != nil {
					out = append(out, sv)
				}
			}
		}
		return out
	}
	return nil
}

// lookup finds a key case-insensitively, as attribute names compare.
func lookup(m map[string]any, name string) any {
	v, _ := schema.Lookup(m, name)
	return v
}

// elements returns the values of a possibly multi-valued attribute.
func elements(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// present implements "pr": RFC 7643 §2.5 makes null, an empty string, an
// empty array and an empty object all equivalent to no value.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		for _, el := range v {
			if present(el) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, el := range v {
			if present(el) {
				return true
			}
		}
		return false
	}
	return true
}

// compare implements the comparison operators over every value of the
// attribute: a multi-valued attribute matches when any value does, and ne
// is the negation of eq (so it matches when no value is equal, including
// when there is none).
func compare(c *Compare, v any) bool {
	leaf := c.Path.Leaf()
	typ := leaf.Type
	if IsSchemas(c.Path) {
		typ = schema.Reference
	}
	op := c.Op
	if op == OpNe {
		op = OpEq
	}
	matched := false
	for _, el := range elements(v) {
		if leaf.Type == schema.Complex {
			// Only hand-built ASTs compare a complex attribute; Parse
			// rewrites these to the value sub-attribute.
			m, _ := el.(map[string]any)
			el = lookup(m, "value")
		}
		if compareOne(typ, leaf.CaseExact, op, c.Value, el) {
			matched = true
			break
		}
	}
	if c.Op == OpNe {
		return !matched
	}
	return matched
}

func compareOne(typ schema.Type, caseExact bool, op string, want, got any) bool {
	switch typ {
	case schema.Boolean:
		w, ok1 := want.(bool)
		g, ok2 := got.(bool)
		return ok1 && ok2 && op == OpEq && w == g
	case schema.Integer, schema.Decimal:
		n, ok := numberCmp(got, want)
		return ok && ordered(op, n)
	case schema.DateTime:
		w, ok1 := want.(string)
		g, ok2 := got.(string)
		if !ok1 || !ok2 {
			return false
		}
		wt, err1 := time.Parse(time.RFC3339, w)
		gt, err2 := time.Parse(time.RFC3339, g)
		return err1 == nil && err2 == nil && ordered(op, gt.Compare(wt))
	}
	w, ok1 := want.(string)
	g, ok2 := got.(string)
	if !ok1 || !ok2 {
		return false
	}
	if typ == schema.Binary {
		return op == OpEq && w == g
	}
	if !caseExact {
		w, g = fold(w), fold(g)
	}
	switch op {
	case OpCo:
		return strings.Contains(g, w)
	case OpSw:
		return strings.HasPrefix(g, w)
	case OpEw:
		return strings.HasSuffix(g, w)
	}
	return ordered(op, strings.Compare(g, w))
}

// ordered applies eq or an ordering operator to a three-way comparison
// of the attribute's value against the filter's.
func ordered(op string, n int) bool {
	switch op {
	case OpEq:
		return n == 0
	case OpGt:
		return n > 0
	case OpGe:
		return n >= 0
	case OpLt:
		return n < 0
	case OpLe:
		return n <= 0
	}
	return false
}

// fold maps s to a canonical case so that case-insensitive eq, co, sw, ew
// and ordering all agree: each rune to the lower case of its upper case,
// which puts 'ſ' with "s" and the Kelvin sign with "k" as EqualFold does.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
}

func isNumber(v any) bool {
	_, ok := v.(json.Number)
	return ok
}

// numberCmp compares a resource's number with a filter's json.Number,
// exactly for integers that fit in int64 and to 128 bits of precision
// otherwise, so that large identifiers are not rounded into equality.
func numberCmp(got, want any) (int, bool) {
	w, ok := want.(json.Number)
	if !ok {
		return 0, false
	}
	var gs string
	switch g := got.(type) {
	case json.Number:
		gs = string(g)
	case float64:
		if math.IsNaN(g) {
			return 0, false
		}
		gs = strconv.FormatFloat(g, 'g', -1, 64)
	case int:
		gs = strconv.Itoa(g)
	case int64:
		gs = strconv.FormatInt(g, 10)
	default:
		return 0, false
	}
	gi, err1 := strconv.ParseInt(gs, 10, 64)
	wi, err2 := strconv.ParseInt(string(w), 10, 64)
	if err1 == nil && err2 == nil {
		switch {
		case gi < wi:
			return -1, true
		case gi > wi:
			return 1, true
		}
		return 0, true
	}
	gf, ok1 := parseBig(gs)
	wf, ok2 := parseBig(string(w))
	if !ok1 || !ok2 {
		return 0, false
	}
	return gf.Cmp(wf), true
}

func parseBig(s string) (*big.Float, bool) {
	// Refuse what float64 cannot hold before big.Float sees it: a huge
	// exponent in a stored value would otherwise cost time to parse.
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 10, 128, big.ToNearestEven)
	return f, err == nil
}
