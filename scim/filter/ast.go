package filter

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/headwater/headwater/scim/schema"
)

// The comparison operators, as they appear in Compare.Op.
const (
	OpEq = "eq"
	OpNe = "ne"
	OpCo = "co"
	OpSw = "sw"
	OpEw = "ew"
	OpGt = "gt"
	OpGe = "ge"
	OpLt = "lt"
	OpLe = "le"
)

// Expr is a parsed filter. The concrete types are *Compare, *Present,
// *And, *Or, *Not and *ValuePath; the set is closed so that a type switch
// over them is exhaustive.
type Expr interface {
	// String renders the filter canonically: core attributes unqualified,
	// extension attributes with their URN, names as the schema spells them,
	// keywords in lower case, and parentheses only where the structure needs
	// them. Parsing the result gives an equal AST. The rendering can be a
	// few bytes longer than the filter it came from ("not(" becomes
	// "not ("), so near MaxLength it may exceed the limit.
	String() string
	expr()
}

// Compare is "attrPath op value". Path.Leaf() is never a complex attribute:
// a comparison on a complex attribute is parsed as one on its "value"
// sub-attribute. Inside a ValuePath, Path.Attr is the ValuePath's attribute
// and Path.Sub the sub-attribute compared in each element.
type Compare struct {
	Path schema.Path
	Op   string // one of the Op constants
	// Value is a string, a json.Number or a bool, as suits the type of
	// Path.Leaf(); it is never nil (see the package documentation).
	Value any
}

// Present is "attrPath pr": the attribute has a value that is not null,
// an empty string, an empty array or an empty object.
type Present struct {
	Path schema.Path
}

// And matches when both sides match.
type And struct{ Left, Right Expr }

// Or matches when either side matches.
type Or struct{ Left, Right Expr }

// Not matches when X does not.
type Not struct{ X Expr }

// ValuePath is "attr[filter]": some element of the multi-valued complex
// attribute Attr matches Filter. The paths inside Filter are relative to
// one element: each has Attr equal to this Attr and Sub set to the
// sub-attribute it names.
type ValuePath struct {
	Attr   schema.Path
	Filter Expr
}

func (*Compare) expr()   {}
func (*Present) expr()   {}
func (*And) expr()       {}
func (*Or) expr()        {}
func (*Not) expr()       {}
func (*ValuePath) expr() {}

func (e *Compare) String() string   { return render(e) }
func (e *Present) String() string   { return render(e) }
func (e *And) String() string       { return render(e) }
func (e *Or) String() string        { return render(e) }
func (e *Not) String() string       { return render(e) }
func (e *ValuePath) String() string { return render(e) }

func render(e Expr) string {
	var b strings.Builder
	write(&b, e, false)
	return b.String()
}

// write renders e; inner is true inside a value filter, where paths are
// written relative to the element.
func write(b *strings.Builder, e Expr, inner bool) {
	switch e := e.(type) {
	case *Compare:
		writePath(b, e.Path, inner)
		b.WriteString(" " + e.Op + " ")
		writeValue(b, e.Value)
	case *Present:
		writePath(b, e.Path, inner)
		b.WriteString(" pr")
	case *And:
		// and is left-associative and binds tighter than or: an or below
		// an and, or an and on the right of an and, needs parentheses to
		// come back as the same tree.
		writeOperand(b, e.Left, inner, isOr(e.Left))
		b.WriteString(" and ")
		writeOperand(b, e.Right, inner, isOr(e.Right) || isAnd(e.Right))
	case *Or:
		writeOperand(b, e.Left, inner, false)
		b.WriteString(" or ")
		writeOperand(b, e.Right, inner, isOr(e.Right))
	case *Not:
		b.WriteString("not (")
		write(b, e.X, inner)
		b.WriteByte(')')
	case *ValuePath:
		writePath(b, e.Attr, false)
		b.WriteByte('[')
		write(b, e.Filter, true)
		b.WriteByte(']')
	}
}

func writeOperand(b *strings.Builder, e Expr, inner, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	write(b, e, inner)
	if paren {
		b.WriteByte(')')
	}
}

func isAnd(e Expr) bool { _, ok := e.(*And); return ok }
func isOr(e Expr) bool  { _, ok := e.(*Or); return ok }

func writePath(b *strings.Builder, p schema.Path, inner bool) {
	if p.Attr == nil {
		b.WriteString("<nil>")
		return
	}
	if inner && p.Sub != nil {
		b.WriteString(p.Sub.Name)
		return
	}
	// Core attributes need no URN; extension attributes cannot do without.
	if p.Schema != nil && !isCoreURN(p.Schema.ID) {
		b.WriteString(p.Schema.ID + ":")
	}
	b.WriteString(p.Attr.Name)
	if p.Sub != nil {
		b.WriteString("." + p.Sub.Name)
	}
}

// isCoreURN reports whether a schema is a core schema, whose attributes
// resolve unqualified. String has no resource type to ask, but RFC 7643
// reserves this prefix for core schemas, so no extension carries it. A core
// schema outside the prefix is rendered qualified, which still parses.
func isCoreURN(id string) bool {
	return strings.HasPrefix(strings.ToLower(id), "urn:ietf:params:scim:schemas:core:")
}

func writeValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		writeString(b, v)
	case json.Number:
		b.WriteString(string(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case nil:
		b.WriteString("null")
	default:
		// Only hand-built ASTs get here; render something parseable that
		// will be rejected rather than something that silently differs.
		b.WriteString("null")
	}
}

// writeString quotes s as a JSON string, escaping only what JSON requires
// so that the rendering is never longer than necessary.
func writeString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
