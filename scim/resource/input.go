package resource

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// body is a request body resolved against a resource type: each writable
// attribute it gives, found whatever the case of its name and wherever it
// was put, with its value checked against the attribute's type and
// decoded. Decoded values are string, bool, int64, float64, nil (JSON
// null), map[*schema.Attribute]any for a complex value and []any for a
// multi-valued one.
//
// Read-only attributes (id, meta, groups, manager.displayName,
// members.display) are skipped unread: RFC 7643 §7 says a service provider
// ignores them in requests, and clients echo what they last got back.
// Attributes the schemas do not define are skipped as well: RFC 7644 §3.3
// lets a service provider ignore what it does not support, and clients
// such as Microsoft Entra ID send attributes (roles) that are not in
// Headwater's schema. Note that this is also why a SCIM client cannot
// grant Headwater roles: they are not a SCIM attribute.
type body struct {
	rt   *schema.ResourceType
	vals map[*schema.Attribute]any
}

// readBody resolves res against rt. Keys are visited in sorted order so
// that a body with several faults always gets the same error.
func readBody(rt *schema.ResourceType, res map[string]any) (*body, error) {
	b := &body{rt: rt, vals: make(map[*schema.Attribute]any, len(res))}
	for _, k := range slices.Sorted(maps.Keys(res)) {
		v := res[k]
		if strings.EqualFold(k, "schemas") {
			if err := checkSchemas(rt, v); err != nil {
				return nil, err
			}
			continue
		}
		if s := rt.SchemaByURN(k); s != nil && s != rt.Core {
			if err := b.readExtension(s, v); err != nil {
				return nil, err
			}
			continue
		}
		if a := rt.Core.Attr(k); a != nil {
			if err := b.set(rt.Core, a, nil, v); err != nil {
				return nil, err
			}
			continue
		}
		if p, ok := compatQualifiedKey(rt, k); ok {
			if err := b.set(p.Schema, p.Attr, p.Sub, v); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// checkSchemas accepts a body without schemas (every client Headwater
// knows sends it, and the endpoint already says what the resource is) but
// rejects one whose schemas is malformed or does not name the core schema:
// that body was meant for another resource type. URNs Headwater does not
// serve are let through, as their attributes are.
func checkSchemas(rt *schema.ResourceType, v any) error {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return scimerr.BadRequest(scimerr.InvalidSyntax, "schemas must be a list of schema URNs including %q, not %s", rt.Core.ID, kind(v))
	}
	found := false
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return scimerr.BadRequest(scimerr.InvalidSyntax, "schemas must be a list of schema URNs including %q; it holds %s", rt.Core.ID, kind(e))
		}
		found = found || strings.EqualFold(s, rt.Core.ID)
	}
	if !found {
		return scimerr.BadRequest(scimerr.InvalidSyntax, "schemas must include %q for a %s", rt.Core.ID, rt.Name)
	}
	return nil
}

func (b *body) readExtension(s *schema.Schema, v any) error {
	if v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return scimerr.BadRequest(scimerr.InvalidValue, "%s must be an object holding the extension's attributes, not %s", s.ID, kind(v))
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if a := s.Attr(k); a != nil {
			if err := b.set(s, a, nil, obj[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// name is how errors name an attribute: bare in the core schema,
// URN-qualified in an extension.
func (b *body) name(s *schema.Schema, a *schema.Attribute) string {
	if s == b.rt.Core {
		return a.Name
	}
	return s.ID + ":" + a.Name
}

// set records the value of a (or of its sub-attribute sub). The same
// attribute may arrive more than once (names differing in case, or an
// extension attribute both nested and URN-qualified); that is accepted
// when the values agree, and an error otherwise, since picking one would
// depend on map order.
func (b *body) set(s *schema.Schema, a, sub *schema.Attribute, v any) error {
	if a.Mutability == schema.ReadOnly {
		return nil
	}
	name := b.name(s, a)
	if sub != nil {
		if sub.Mutability == schema.ReadOnly {
			return nil
		}
		if a.MultiValued {
			return scimerr.BadRequest(scimerr.InvalidValue, "%s.%s cannot be given on its own: %s is multi-valued, so give the whole list", name, sub.Name, name)
		}
		d, err := decodeValue(name+"."+sub.Name, sub, v)
		if err != nil {
			return err
		}
		return b.merge(name, a, map[*schema.Attribute]any{sub: d})
	}
	d, err := decodeValue(name, a, v)
	if err != nil {
		return err
	}
	if m, ok := d.(map[*schema.Attribute]any); ok {
		return b.merge(name, a, m)
	}
	if old, ok := b.vals[a]; ok && !reflect.DeepEqual(old, d) {
		return twice(name)
	}
	b.vals[a] = d
	return nil
}

// merge adds sub-attribute values to a single-valued complex attribute.
func (b *body) merge(name string, a *schema.Attribute, m map[*schema.Attribute]any) error {
	old, seen := b.vals[a]
	if !seen {
		b.vals[a] = m
		return nil
	}
	into, ok := old.(map[*schema.Attribute]any)
	if !ok {
		return twice(name)
	}
	for sub, v := range m {
		if prev, ok := into[sub]; ok && !reflect.DeepEqual(prev, v) {
			return twice(name + "." + sub.Name)
		}
		into[sub] = v
	}
	return nil
}

func twice(name string) error {
	return scimerr.BadRequest(scimerr.InvalidSyntax, "%s is given more than once with different values (attribute names are case-insensitive, and an extension attribute goes either under its schema URN or at the top level with its full name, not both)", name)
}

// decodeValue checks v against a's type and decodes it. Null elements of
// a multi-valued attribute are dropped: null means "no value" (RFC 7643
// §2.5).
func decodeValue(path string, a *schema.Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !a.MultiValued {
		return decodeSingle(path, a, v)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, typeError(path, "a list", v)
	}
	out := make([]any, 0, len(list))
	for i, e := range list {
		if e == nil {
			continue
		}
		d, err := decodeSingle(fmt.Sprintf("%s[%d]", path, i), a, e)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func decodeSingle(path string, a *schema.Attribute, v any) (any, error) {
	switch a.Type {
	case schema.Complex:
		if obj, ok := v.(map[string]any); ok {
			return decodeComplex(path, a, obj)
		}
		if sub, s, ok := compatBareValue(a, v); ok {
			return map[*schema.Attribute]any{sub: s}, nil
		}
		return nil, typeError(path, "an object", v)
	case schema.String, schema.Reference, schema.Binary:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, typeError(path, "a string", v)
	case schema.DateTime:
		s, ok := v.(string)
		if !ok {
			return nil, typeError(path, "a date and time string", v)
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return nil, scimerr.BadRequest(scimerr.InvalidValue, "%s must be a date and time like 2015-09-01T12:00:00Z (got %q)", path, s)
		}
		return s, nil
	case schema.Boolean:
		if b, ok := compatBoolean(v); ok {
			return b, nil
		}
		return nil, typeError(path, "true or false", v)
	case schema.Integer:
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		return nil, typeError(path, "a whole number", v)
	case schema.Decimal:
		if f, ok := toFloat64(v); ok {
			return f, nil
		}
		return nil, typeError(path, "a number", v)
	}
	return v, nil
}

func decodeComplex(path string, a *schema.Attribute, obj map[string]any) (map[*schema.Attribute]any, error) {
	out := make(map[*schema.Attribute]any, len(obj))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		sub := a.Sub(k)
		if sub == nil || sub.Mutability == schema.ReadOnly {
			continue
		}
		d, err := decodeValue(path+"."+sub.Name, sub, obj[k])
		if err != nil {
			return nil, err
		}
		if prev, ok := out[sub]; ok && !reflect.DeepEqual(prev, d) {
			return nil, twice(path + "." + sub.Name)
		}
		out[sub] = d
	}
	return out, nil
}

func typeError(path, want string, v any) error {
	return scimerr.BadRequest(scimerr.InvalidValue, "%s must be %s, not %s", path, want, kind(v))
}

// kind names a JSON value's type for error messages.
func kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", truncate(x, 40))
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case json.Number, float64, float32, int, int64, int32:
		return fmt.Sprintf("the number %v", x)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// toInt64 reads a whole number. json.Number is the documented form;
// Go numbers are accepted for representations built in code. As RFC 7643
// §2.3.4 defines an integer as having no fractional part, "1000.0" and
// "1e3" are not integers.
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func toFloat64(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}

// Accessors for decoded values: the zero value when absent or null.

func (b *body) str(a *schema.Attribute) string {
	s, _ := b.vals[a].(string)
	return s
}

func (b *body) obj(a *schema.Attribute) map[*schema.Attribute]any {
	m, _ := b.vals[a].(map[*schema.Attribute]any)
	return m
}

func (b *body) list(a *schema.Attribute) []any {
	l, _ := b.vals[a].([]any)
	return l
}

func subStr(m map[*schema.Attribute]any, a *schema.Attribute, name string) string {
	s, _ := m[a.Sub(name)].(string)
	return s
}

func subBool(m map[*schema.Attribute]any, a *schema.Attribute, name string) bool {
	v, _ := m[a.Sub(name)].(bool)
	return v
}
