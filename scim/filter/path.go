package filter

import (
	"fmt"
	"strings"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// Path is a parsed PATCH path (RFC 7644 §3.5.2):
//
//	PATH = attrPath / valuePath [subAttr]
//
// name.familyName has Attr with Sub set; members[value eq "2819c223"] has
// Attr and Filter; emails[type eq "work"].value has Attr, Filter and
// SubAttr. When Filter is set, Attr.Sub is nil.
type Path struct {
	// Attr is the attribute the operation targets.
	Attr schema.Path
	// Filter selects elements of Attr, a multi-valued complex attribute;
	// test an element with MatchValue. Nil when the path has no filter.
	Filter Expr
	// SubAttr is the sub-attribute of the selected elements that the
	// operation targets, or nil for the whole elements.
	SubAttr *schema.Attribute
}

// String renders the path canonically, as Expr.String renders filters.
func (p *Path) String() string {
	var b strings.Builder
	writePath(&b, p.Attr, false)
	if p.Filter != nil {
		b.WriteByte('[')
		write(&b, p.Filter, true)
		b.WriteByte(']')
	}
	if p.SubAttr != nil {
		b.WriteString("." + p.SubAttr.Name)
	}
	return b.String()
}

// ParsePath parses a PATCH operation's path for resources of type rt.
// Errors are *scimerr.Error with status 400 and scimType invalidPath.
func ParsePath(rt *schema.ResourceType, s string) (*Path, error) {
	p, err := newParser(rt, s, scimerr.InvalidPath, Options{})
	if err != nil {
		return nil, err
	}
	at := p.next()
	if at.kind != tWord {
		if at.kind == tEOF {
			return nil, p.errAt(0, "the path is empty", "name an attribute, as in name.familyName")
		}
		return nil, p.unexpected(at, "expected an attribute name")
	}
	attr, err := p.resolve(at, nil)
	if err != nil {
		return nil, err
	}
	out := &Path{Attr: attr}
	if p.peek().kind == tLBracket {
		vp, err := p.parseValuePath(at, attr)
		if err != nil {
			return nil, err
		}
		out.Filter = vp.Filter
		if t := p.peek(); t.kind == tWord && strings.HasPrefix(t.val, ".") {
			p.next()
			name := t.val[1:]
			if !validName(name) {
				return nil, p.errAt(t.off+1, fmt.Sprintf("%q is not a sub-attribute name", name), "")
			}
			if out.SubAttr = attr.Attr.Sub(name); out.SubAttr == nil {
				return nil, p.errAt(t.off+1, fmt.Sprintf("unknown attribute %q", name),
					fmt.Sprintf("%s has no sub-attribute %q", attr.Attr.Name, name))
			}
		}
	}
	if t := p.peek(); t.kind != tEOF {
		expected := "expected the end of the path"
		if out.Filter != nil && out.SubAttr == nil {
			expected = `expected a sub-attribute (as in ".value") or the end of the path`
		}
		return nil, p.unexpected(t, expected)
	}
	return out, nil
}
