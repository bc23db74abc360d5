package filter

// This file is the compatibility layer: forms that RFC 7644 does not
// allow but that widely deployed SCIM clients send, accepted only when the
// caller asks (Options.Compat) and rewritten to their standard meaning, so
// that nothing past the parser sees them. Each form names the client that
// needs it, so that it can be dropped when the client is fixed.

import (
	"fmt"
	"strings"

	"github.com/headwater/headwater/scim/schema"
)

// ParseCompat parses a filter as Parse does, also accepting the forms of
// the compatibility layer:
//
//   - Microsoft Entra ID matches users by email with
//     emails[type eq "work"].value eq "user@example.com": a value filter
//     followed by a sub-attribute and a comparison, which the filter grammar
//     of RFC 7644 §3.4.2.2 does not have. It is read as
//     emails[type eq "work" and value eq "user@example.com"], the meaning
//     Entra intends: some work email has that value.
func ParseCompat(rt *schema.ResourceType, s string) (Expr, error) {
	return ParseWith(rt, s, Options{Compat: true})
}

// compatSubAttrCompare parses the ".sub op value" or ".sub pr" that follows
// the value path vp, and folds it into the value filter.
func (p *parser) compatSubAttrCompare(vp *ValuePath) (Expr, error) {
	at := p.next()
	at.val = strings.TrimPrefix(at.val, ".")
	at.off++
	sub, err := p.resolve(at, &vp.Attr)
	if err != nil {
		return nil, err
	}
	var cond Expr
	switch t := p.peek(); {
	case isKeyword(t, "pr"):
		p.next()
		cond = &Present{Path: sub}
	case t.kind == tWord && isOp(t.val):
		p.next()
		if cond, err = p.parseCompare(at, sub, t); err != nil {
			return nil, err
		}
	default:
		return nil, p.unexpected(t, fmt.Sprintf("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after %q", at.val))
	}
	return &ValuePath{Attr: vp.Attr, Filter: &And{Left: vp.Filter, Right: cond}}, nil
}
