package resource

import (
	"cmp"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// Sorter orders representations by one attribute, as the sortBy
// parameter asks (RFC 7644 §3.4.2.3). Make one per request with
// NewSorter; its methods do not allocate (except to parse a dateTime with
// a non-UTC offset), so sorting a page of candidates costs only the
// comparisons.
type Sorter struct {
	schemaURN string // empty for the core schema
	attr      *schema.Attribute
	sub       *schema.Attribute // nil when attr is itself the value
	leaf      *schema.Attribute
}

// NewSorter resolves sortBy against rt. A path that does not resolve, or
// names an attribute that is never returned, is a 400 invalidValue
// naming it. A complex attribute must be given with a sub-attribute
// ("name.givenName"), except that one with a value sub-attribute stands
// for it ("emails" sorts as "emails.value").
func NewSorter(rt *schema.ResourceType, sortBy string) (*Sorter, error) {
	p, err := rt.Resolve(strings.TrimSpace(sortBy))
	if err != nil {
		return nil, scimerr.BadRequest(scimerr.InvalidValue, "sortBy %q is not an attribute of %s: %v", sortBy, rt.Name, err)
	}
	s := &Sorter{attr: p.Attr, sub: p.Sub}
	if !p.IsCore(rt) {
		s.schemaURN = p.Schema.ID
	}
	if s.sub == nil && s.attr.Type == schema.Complex {
		if s.sub = s.attr.Sub("value"); s.sub == nil {
			example := ""
			if len(s.attr.SubAttributes) > 0 {
				example = fmt.Sprintf(", such as %s.%s", s.attr.Name, s.attr.SubAttributes[0].Name)
			}
			return nil, scimerr.BadRequest(scimerr.InvalidValue, "sortBy %q names a complex attribute; sort by one of its sub-attributes%s", sortBy, example)
		}
	}
	s.leaf = s.attr
	if s.sub != nil {
		s.leaf = s.sub
	}
	if s.attr.Returned == schema.ReturnedNever || s.leaf.Returned == schema.ReturnedNever {
		return nil, scimerr.BadRequest(scimerr.InvalidValue, "sortBy %q: %s is never returned, so it cannot be sorted by", sortBy, s.leaf.Name)
	}
	return s, nil
}

// Compare orders a before b ascending: by the attribute's value
// (case-insensitively unless the attribute is caseExact; for a
// multi-valued attribute, the primary value or else the first), with
// resources lacking a value last, and by id where the values are equal so
// that pages are stable. Descending order is the negation, which puts
// resources without a value first, as RFC 7644 asks.
func (s *Sorter) Compare(a, b map[string]any) int {
	if c := s.compareValues(s.value(a), s.value(b)); c != 0 {
		return c
	}
	ida, _ := lookupFold(a, "id")
	idb, _ := lookupFold(b, "id")
	sa, _ := ida.(string)
	sb, _ := idb.(string)
	return strings.Compare(sa, sb)
}

// Less reports whether a sorts before b ascending; see Compare.
func (s *Sorter) Less(a, b map[string]any) bool { return s.Compare(a, b) < 0 }

// value finds the value to sort res by; nil when there is none.
func (s *Sorter) value(res map[string]any) any {
	m := res
	if s.schemaURN != "" {
		ext, _ := lookupFold(res, s.schemaURN)
		if m, _ = ext.(map[string]any); m == nil {
			return nil
		}
	}
	v, _ := lookupFold(m, s.attr.Name)
	if s.attr.MultiValued {
		v = primaryOrFirst(v)
	}
	if s.sub != nil {
		obj, _ := v.(map[string]any)
		if obj == nil {
			return nil
		}
		v, _ = lookupFold(obj, s.sub.Name)
	}
	if str, ok := v.(string); ok && str == "" {
		return nil
	}
	return v
}

func primaryOrFirst(v any) any {
	list, _ := v.([]any)
	var first any
	for _, e := range list {
		if e == nil {
			continue
		}
		if first == nil {
			first = e
		}
		if obj, ok := e.(map[string]any); ok {
			if p, _ := lookupFold(obj, "primary"); p != nil {
				if primary, _ := compatBoolean(p); primary {
					return e
				}
			}
		}
	}
	return first
}

// compareValues compares two values of the leaf attribute's type; a value
// missing or not of that type sorts after one that is.
func (s *Sorter) compareValues(a, b any) int {
	switch s.leaf.Type {
	case schema.Integer:
		x, okx := toInt64(a)
		y, oky := toInt64(b)
		return present(okx, oky, func() int { return cmp.Compare(x, y) })
	case schema.Decimal:
		x, okx := toFloat64(a)
		y, oky := toFloat64(b)
		return present(okx, oky, func() int { return cmp.Compare(x, y) })
	case schema.Boolean:
		x, okx := compatBoolean(a)
		y, oky := compatBoolean(b)
		return present(okx, oky, func() int { return cmp.Compare(boolInt(x), boolInt(y)) })
	case schema.DateTime:
		x, okx := parseTime(a)
		y, oky := parseTime(b)
		return present(okx, oky, func() int { return x.Compare(y) })
	}
	x, okx := a.(string)
	y, oky := b.(string)
	return present(okx, oky, func() int {
		if s.leaf.CaseExact {
			return strings.Compare(x, y)
		}
		return compareFold(x, y)
	})
}

// present orders by presence, and values that are both present by cmp.
func present(x, y bool, cmp func() int) int {
	switch {
	case x && y:
		return cmp()
	case x:
		return -1
	case y:
		return 1
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// compareFold compares strings by code point after lower-casing each
// rune: RFC 7644's "case-insensitive Unicode alphabetic sort order with no
// specific locale", without allocating folded copies.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			if c := cmp.Compare(unicode.ToLower(ra), unicode.ToLower(rb)); c != 0 {
				return c
			}
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}
