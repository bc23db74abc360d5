package filter

import (
	"fmt"
	"time"

	"github.com/headwater/headwater/scim/schema"
)

// checkCompare applies RFC 7644's typing rules to "at op value" and builds
// the Compare. Everything that could only ever fail to match — a value of
// the wrong type, an operator the type has no meaning for — is an error
// here, so that evaluation has none.
func (p *parser) checkCompare(at token, path schema.Path, opTok token, op string, vt token, v any) (Expr, error) {
	leaf := path.Leaf()
	if leaf.Type == schema.Complex {
		if isOrdering(op) {
			return nil, p.errAt(opTok.off, fmt.Sprintf("%s cannot order %s, a complex attribute", op, at.val),
				fmt.Sprintf("compare one of its sub-attributes, as in %s.value", at.val))
		}
		// RFC 7644 §3.4.2.2 compares "emails co ..." against each value's
		// "value"; the AST says so, so that nothing downstream must know.
		v := leaf.Sub("value")
		if v == nil {
			return nil, p.errAt(at.off, fmt.Sprintf("%s is a complex attribute without a value sub-attribute, so it cannot be compared", at.val),
				fmt.Sprintf("compare one of its sub-attributes, as in %s.%s", at.val, firstSub(leaf)))
		}
		path.Sub, leaf = v, v
	}
	typ := leaf.Type
	if IsSchemas(path) {
		typ = schema.Reference
	}
	switch {
	case isSubstring(op) && typ != schema.String && typ != schema.Reference:
		return nil, p.errAt(opTok.off, fmt.Sprintf("%s needs a string attribute, but %s is %s", op, at.val, article(typ)),
			fmt.Sprintf("use %s", opsFor(typ)))
	case isOrdering(op) && (typ == schema.Boolean || typ == schema.Binary):
		return nil, p.errAt(opTok.off, fmt.Sprintf("%s cannot order %s, which is %s", op, at.val, article(typ)), "use eq or ne")
	}
	var want string
	switch typ {
	case schema.Boolean:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case schema.Integer, schema.Decimal:
		if !isNumber(v) {
			want = "a number"
		}
	default:
		s, ok := v.(string)
		switch {
		case !ok:
			want = "a string in double quotes"
		case typ == schema.DateTime:
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return nil, p.errAt(vt.off, fmt.Sprintf("%s is a dateTime, and %q is not an RFC 3339 date and time", at.val, s),
					`write it as in "2011-05-13T04:42:34Z"`)
			}
		}
	}
	if want != "" {
		return nil, p.errAt(vt.off, fmt.Sprintf("%s is %s, so it cannot be compared with %s", at.val, article(typ), vt.describe(p.what)),
			"compare it with "+want)
	}
	return &Compare{Path: path, Op: op, Value: v}, nil
}

func article(t schema.Type) string {
	switch t {
	case schema.Integer:
		return "an integer"
	case schema.Reference:
		return "a reference"
	}
	return "a " + string(t)
}

// opsFor lists the operators that suit a non-string type, for a hint.
func opsFor(t schema.Type) string {
	if t == schema.Boolean || t == schema.Binary {
		return "eq or ne"
	}
	return "eq, ne, gt, ge, lt or le"
}

func firstSub(a *schema.Attribute) string {
	if len(a.SubAttributes) == 0 {
		return "..."
	}
	return a.SubAttributes[0].Name
}
