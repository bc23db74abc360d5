package resource

import (
	"slices"
	"strings"

	"github.com/headwater/headwater/scim/schema"
)

// Project returns the part of res that a request's attributes and
// excludedAttributes parameters ask for (RFC 7644 §3.4.2.5, §3.9). It
// builds a new map and never changes res.
//
//   - With attributes, the result holds the attributes listed plus those
//     whose returned characteristic is "always" (id); everything else,
//     meta included, is left out.
//   - With excludedAttributes, the result holds the default set minus the
//     attributes listed; "always" attributes cannot be excluded.
//   - With neither, the default set. With both (RFC 7644 says clients
//     should not), attributes selects and excludedAttributes then removes.
//
// Attributes returned "never" (password) are always left out, and those
// returned "request" only when listed in attributes. Paths are matched
// case-insensitively and may be sub-attributes ("name.givenName",
// "emails.value"), URN-qualified
// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
// or a bare schema URN, meaning all of that schema's attributes. A list
// entry may hold several comma-separated paths. Paths that do not resolve
// are ignored: the parameters select, and asking for an attribute that
// does not exist selects nothing.
//
// schemas is always kept, as it says what the resource is, less the URNs
// of extensions that have no attributes left.
func Project(rt *schema.ResourceType, res map[string]any, attributes, excludedAttributes []string) map[string]any {
	p := projection{inc: selections(rt, attributes), exc: selections(rt, excludedAttributes)}
	out := make(map[string]any, len(res))
	var schemasKey string
	var schemasVal any
	for k, v := range res {
		if strings.EqualFold(k, "schemas") {
			schemasKey, schemasVal = k, v
			continue
		}
		if s := rt.SchemaByURN(k); s != nil && s != rt.Core {
			obj, ok := v.(map[string]any)
			if !ok {
				continue
			}
			ext := make(map[string]any, len(obj))
			for ek, ev := range obj {
				if a := s.Attr(ek); a != nil {
					if pv, ok := p.value(a, ev); ok {
						ext[ek] = pv
					}
				} else if p.inc == nil {
					ext[ek] = deepCopy(ev)
				}
			}
			putObj(out, k, ext)
			continue
		}
		if a := rt.Core.Attr(k); a != nil {
			if pv, ok := p.value(a, v); ok {
				out[k] = pv
			}
		} else if p.inc == nil {
			out[k] = deepCopy(v)
		}
	}
	if list, ok := schemasVal.([]any); ok {
		schemas := make([]any, 0, len(list))
		for _, u := range list {
			s, _ := u.(string)
			if ext := rt.SchemaByURN(s); ext != nil && ext != rt.Core {
				if _, kept := lookupFold(out, ext.ID); !kept {
					continue
				}
			}
			schemas = append(schemas, u)
		}
		out[schemasKey] = schemas
	}
	return out
}

// selection is what a parameter says of one attribute: all of it, or
// some of its sub-attributes.
type selection struct {
	whole bool
	subs  []*schema.Attribute
}

// selections resolves a parameter's paths; nil when the parameter is
// absent or empty.
func selections(rt *schema.ResourceType, params []string) map[*schema.Attribute]*selection {
	var m map[*schema.Attribute]*selection
	for _, param := range params {
		for path := range strings.SplitSeq(param, ",") {
			path = strings.TrimSpace(path)
			if path == "" {
				continue
			}
			if m == nil {
				m = map[*schema.Attribute]*selection{}
			}
			if s := rt.SchemaByURN(path); s != nil {
				for _, a := range s.Attributes {
					m[a] = &selection{whole: true}
				}
				continue
			}
			p, err := rt.Resolve(path)
			if err != nil {
				continue
			}
			sel := m[p.Attr]
			if sel == nil {
				sel = &selection{}
				m[p.Attr] = sel
			}
			if p.Sub == nil {
				sel.whole = true
			} else {
				sel.subs = append(sel.subs, p.Sub)
			}
		}
	}
	return m
}

type projection struct {
	inc, exc map[*schema.Attribute]*selection // nil: parameter not given
}

func (p projection) keepAttr(a *schema.Attribute) bool {
	switch a.Returned {
	case schema.ReturnedNever:
		return false
	case schema.ReturnedAlways:
		return true
	}
	if p.inc != nil {
		if p.inc[a] == nil && !hasAlwaysSub(a) {
			return false
		}
	} else if a.Returned == schema.ReturnedRequest {
		return false
	}
	if s := p.exc[a]; s != nil && s.whole {
		return false
	}
	return true
}

func (p projection) keepSub(a, sub *schema.Attribute) bool {
	switch sub.Returned {
	case schema.ReturnedNever:
		return false
	case schema.ReturnedAlways:
		return true
	}
	if p.inc != nil && a.Returned != schema.ReturnedAlways {
		s := p.inc[a]
		switch {
		case s == nil:
			return false
		case slices.Contains(s.subs, sub):
			// listed by name: kept even if returned only on request
		case !s.whole || sub.Returned == schema.ReturnedRequest:
			return false
		}
	} else if sub.Returned == schema.ReturnedRequest {
		return false
	}
	if s := p.exc[a]; s != nil && a.Returned != schema.ReturnedAlways && slices.Contains(s.subs, sub) {
		return false
	}
	return true
}

// keepUnknownSub says whether to keep a sub-attribute the schema does not
// define: only when the attribute is taken whole.
func (p projection) keepUnknownSub(a *schema.Attribute) bool {
	if p.inc == nil || a.Returned == schema.ReturnedAlways {
		return true
	}
	s := p.inc[a]
	return s != nil && s.whole
}

func hasAlwaysSub(a *schema.Attribute) bool {
	for _, s := range a.SubAttributes {
		if s.Returned == schema.ReturnedAlways {
			return true
		}
	}
	return false
}

// value projects one attribute's value; ok is false when nothing of it
// remains.
func (p projection) value(a *schema.Attribute, v any) (any, bool) {
	if !p.keepAttr(a) {
		return nil, false
	}
	if a.Type != schema.Complex {
		return deepCopy(v), true
	}
	switch x := v.(type) {
	case map[string]any:
		m := p.complexValue(a, x)
		return m, len(m) > 0
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if em, ok := e.(map[string]any); ok {
				if m := p.complexValue(a, em); len(m) > 0 {
					out = append(out, m)
				}
			}
		}
		return out, len(out) > 0
	}
	return deepCopy(v), true
}

func (p projection) complexValue(a *schema.Attribute, obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		sub := a.Sub(k)
		if (sub == nil && p.keepUnknownSub(a)) || (sub != nil && p.keepSub(a, sub)) {
			out[k] = deepCopy(v)
		}
	}
	return out
}

// deepCopy copies a JSON value, so that a projection shares no mutable
// memory with its source.
func deepCopy(v any) any { return schema.DeepCopy(v) }

// lookupFold finds a key case-insensitively.
func lookupFold(m map[string]any, name string) (any, bool) { return schema.Lookup(m, name) }
