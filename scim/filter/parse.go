package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// Limits on what Parse and ParsePath accept. They bound the work a request
// can cause; real filters from provisioning clients are far smaller.
const (
	// MaxLength is the longest filter or path accepted, in bytes.
	MaxLength = 4096
	// MaxDepth is the deepest nesting accepted; each "(", "not (" and
	// value filter "[" opens a level.
	MaxDepth = 32
)

// Options adjust parsing. The zero value is RFC 7644 as written.
type Options struct {
	// Compat accepts the non-standard forms that widely deployed clients
	// send, rewritten to their standard equivalents; see compat.go.
	Compat bool
}

// Parse parses a filter (RFC 7644 §3.4.2.2) for resources of type rt,
// resolving and type-checking every attribute it names. Errors are
// *scimerr.Error with status 400 and scimType invalidFilter.
func Parse(rt *schema.ResourceType, s string) (Expr, error) {
	return ParseWith(rt, s, Options{})
}

// ParseWith is Parse with options.
func ParseWith(rt *schema.ResourceType, s string, opts Options) (Expr, error) {
	p, err := newParser(rt, s, scimerr.InvalidFilter, opts)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tEOF {
		return nil, p.errAt(0, "the filter is empty", "give an expression such as userName eq \"bjensen\"")
	}
	e, err := p.parseOr(nil)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, `expected "and", "or" or the end of the filter`)
	}
	return e, nil
}

type parser struct {
	rt       *schema.ResourceType
	src      string
	scimType string // invalidFilter or invalidPath
	what     string // "filter" or "path", for messages
	opts     Options
	toks     []token
	pos      int
	depth    int
	// schemasAttr stands for the "schemas" attribute that every resource
	// has but no schema defines; it is made per parse so that no shared
	// value can be changed by a caller holding an AST.
	schemasAttr *schema.Attribute
}

func newParser(rt *schema.ResourceType, s, scimType string, opts Options) (*parser, error) {
	what := "filter"
	if scimType == scimerr.InvalidPath {
		what = "path"
	}
	if len(s) > MaxLength {
		return nil, scimerr.BadRequest(scimType, "the %s is %d bytes long; the limit is %d bytes (MaxLength): shorten it", what, len(s), MaxLength)
	}
	toks, err := lex(scimType, s)
	if err != nil {
		return nil, err
	}
	return &parser{rt: rt, src: s, scimType: scimType, what: what, opts: opts, toks: toks}, nil
}

// errAt reports a problem at a byte offset; hint, when given, says what
// to do about it.
func (p *parser) errAt(off int, problem, hint string) *scimerr.Error {
	e := errorf(p.scimType, p.src, off, "%s", problem)
	if hint != "" {
		e.Detail += ": " + hint
	}
	return e
}

func (p *parser) unexpected(t token, expected string) *scimerr.Error {
	return p.errAt(t.off, fmt.Sprintf("%s, found %s", expected, t.describe(p.what)), "")
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(n int) token {
	if p.pos+n >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.pos+n]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func isKeyword(t token, kw string) bool { return t.kind == tWord && strings.EqualFold(t.val, kw) }

// enter opens a nesting level at t, refusing to go past MaxDepth. The
// parser recurses once per level, so this also bounds its stack.
func (p *parser) enter(t token) error {
	if p.depth++; p.depth > MaxDepth {
		return p.errAt(t.off, fmt.Sprintf("the %s nests more than %d levels deep (MaxDepth)", p.what, MaxDepth),
			`each "(", "not (" and "[" opens a level; remove redundant parentheses or split the query`)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// scope is the multi-valued attribute whose elements a value filter
// tests, or nil at the top level.
type scope = *schema.Path

// parseOr parses a sequence of and-terms joined by "or". Chains are built
// by iteration, not recursion, so long flat filters cost no stack.
func (p *parser) parseOr(sc scope) (Expr, error) {
	left, err := p.parseAnd(sc)
	if err != nil {
		return nil, err
	}
	for isKeyword(p.peek(), "or") {
		p.next()
		right, err := p.parseAnd(sc)
		if err != nil {
			return nil, err
		}
		left = &Or{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd(sc scope) (Expr, error) {
	left, err := p.parseUnary(sc)
	if err != nil {
		return nil, err
	}
	for isKeyword(p.peek(), "and") {
		p.next()
		right, err := p.parseUnary(sc)
		if err != nil {
			return nil, err
		}
		left = &And{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseUnary(sc scope) (Expr, error) {
	t := p.peek()
	switch {
	case t.kind == tLParen:
		p.next()
		return p.parseGroup(t, sc)
	case isKeyword(t, "not") && p.peekAt(1).kind == tLParen:
		p.next()
		e, err := p.parseGroup(p.next(), sc)
		if err != nil {
			return nil, err
		}
		return &Not{X: e}, nil
	case t.kind == tWord:
		return p.parseAttrExpr(sc)
	}
	return nil, p.unexpected(t, `expected an attribute name, "not (" or "("`)
}

// parseGroup parses the inside of a parenthesis opened by open.
func (p *parser) parseGroup(open token, sc scope) (Expr, error) {
	if err := p.enter(open); err != nil {
		return nil, err
	}
	defer p.leave()
	e, err := p.parseOr(sc)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRParen {
		if t.kind == tEOF {
			return nil, p.errAt(open.off, `"(" is never closed`, `add the matching ")"`)
		}
		return nil, p.unexpected(t, `expected "and", "or" or ")"`)
	}
	return e, nil
}

// parseAttrExpr parses "attrPath pr", "attrPath op value" and, at the top
// level, "attrPath[valFilter]".
func (p *parser) parseAttrExpr(sc scope) (Expr, error) {
	at := p.next()
	path, err := p.resolve(at, sc)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tLBracket:
		if sc != nil {
			return nil, p.errAt(t.off, fmt.Sprintf("value filters cannot nest: %q[...] is inside %s[...]", at.val, sc.Attr.Name), "")
		}
		vp, err := p.parseValuePath(at, path)
		if err != nil {
			return nil, err
		}
		if sub := p.peek(); sub.kind == tWord && strings.HasPrefix(sub.val, ".") {
			if p.opts.Compat {
				return p.compatSubAttrCompare(vp)
			}
			return nil, p.errAt(sub.off, fmt.Sprintf("a filter cannot follow %s[...] with a sub-attribute (%q)", at.val, sub.val),
				fmt.Sprintf("move the comparison into the brackets, as in %s[type eq \"work\" and value eq \"...\"]", at.val))
		}
		return vp, nil
	case isKeyword(t, "pr"):
		p.next()
		return &Present{Path: path}, nil
	case t.kind == tWord && isOp(t.val):
		p.next()
		return p.parseCompare(at, path, t)
	}
	return nil, p.unexpected(t, fmt.Sprintf("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after %q", at.val))
}

// parseValuePath parses "[valFilter]" after the attribute at.
func (p *parser) parseValuePath(at token, path schema.Path) (*ValuePath, error) {
	open := p.next()
	if path.Sub != nil || path.Attr.Type != schema.Complex || !path.Attr.MultiValued {
		return nil, p.errAt(open.off, fmt.Sprintf("%s is not a multi-valued complex attribute, so it cannot take a value filter [...]", at.val), "")
	}
	if err := p.enter(open); err != nil {
		return nil, err
	}
	defer p.leave()
	f, err := p.parseOr(&path)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRBracket {
		if t.kind == tEOF {
			return nil, p.errAt(open.off, fmt.Sprintf("%q[ is never closed", at.val), `add the matching "]"`)
		}
		return nil, p.unexpected(t, `expected "and", "or" or "]"`)
	}
	return &ValuePath{Attr: path, Filter: f}, nil
}

func (p *parser) parseCompare(at token, path schema.Path, opTok token) (Expr, error) {
	op := strings.ToLower(opTok.val)
	vt := p.next()
	var v any
	switch {
	case vt.kind == tString:
		v = vt.val
	case vt.kind == tNumber:
		if _, err := strconv.ParseFloat(vt.val, 64); err != nil {
			return nil, p.errAt(vt.off, fmt.Sprintf("the number %s is out of range", vt.val), "")
		}
		v = json.Number(vt.val)
	case isKeyword(vt, "true"):
		v = true
	case isKeyword(vt, "false"):
		v = false
	case isKeyword(vt, "null"):
		return nil, p.errAt(vt.off, fmt.Sprintf("%s cannot compare with null", at.val),
			fmt.Sprintf("to find resources without %s use not (%s pr)", at.val, at.val))
	default:
		return nil, p.unexpected(vt, fmt.Sprintf("expected a value (a string in double quotes, a number, true or false) after %q", opTok.val))
	}
	return p.checkCompare(at, path, opTok, op, vt, v)
}

func isOp(s string) bool {
	switch strings.ToLower(s) {
	case OpEq, OpNe, OpCo, OpSw, OpEw, OpGt, OpGe, OpLt, OpLe:
		return true
	}
	return false
}

func isOrdering(op string) bool { return op == OpGt || op == OpGe || op == OpLt || op == OpLe }

func isSubstring(op string) bool { return op == OpCo || op == OpSw || op == OpEw }

// resolve resolves the attribute path in token t: against the resource
// type at the top level, or as a sub-attribute of sc inside a value filter.
func (p *parser) resolve(t token, sc scope) (schema.Path, error) {
	name := t.val
	if sc != nil {
		if !validName(name) {
			return schema.Path{}, p.errAt(t.off, fmt.Sprintf("%q is not a sub-attribute name", short(name)),
				fmt.Sprintf("inside %s[...] name sub-attributes of %s alone, as in type or value", sc.Attr.Name, sc.Attr.Name))
		}
		sub := sc.Attr.Sub(name)
		if sub == nil {
			return schema.Path{}, p.errAt(t.off, fmt.Sprintf("unknown attribute %q", short(name)),
				fmt.Sprintf("%s has no sub-attribute %q", sc.Attr.Name, short(name)))
		}
		return schema.Path{Schema: sc.Schema, Attr: sc.Attr, Sub: sub}, nil
	}
	if !validPath(name) {
		if strings.EqualFold(name, "not") {
			return schema.Path{}, p.errAt(t.off, `"not" must be followed by a parenthesised filter`, `write not (...)`)
		}
		return schema.Path{}, p.errAt(t.off, fmt.Sprintf("%q is not an attribute path", short(name)),
			"an attribute is a name such as userName, optionally with a sub-attribute (name.familyName) and a schema URN prefix")
	}
	path, err := p.rt.Resolve(name)
	if err == nil {
		return path, nil
	}
	if sp, ok := p.schemasPath(name); ok {
		return sp, nil
	}
	if strings.EqualFold(name, "not") {
		return schema.Path{}, p.errAt(t.off, `"not" must be followed by a parenthesised filter`, `write not (...)`)
	}
	reason := err.Error()
	var pe *schema.PathError
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	return schema.Path{}, p.errAt(t.off, fmt.Sprintf("unknown attribute %q", short(name)), reason)
}

// schemasPath resolves "schemas", which RFC 7643 §3 puts on every
// resource without any schema defining it. Only filters may name it: it
// is not something a PATCH can change.
func (p *parser) schemasPath(name string) (schema.Path, bool) {
	if p.scimType != scimerr.InvalidFilter {
		return schema.Path{}, false
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		if !strings.EqualFold(name[:i], p.rt.Core.ID) {
			return schema.Path{}, false
		}
		name = name[i+1:]
	}
	if !strings.EqualFold(name, "schemas") {
		return schema.Path{}, false
	}
	if p.schemasAttr == nil {
		p.schemasAttr = &schema.Attribute{Name: "schemas", Type: schema.Reference, MultiValued: true,
			Required: true, Mutability: schema.ReadOnly, Returned: schema.ReturnedAlways, ReferenceTypes: []string{"uri"},
			Description: "The URNs of the schemas the resource conforms to."}
	}
	return schema.Path{Schema: p.rt.Core, Attr: p.schemasAttr}, true
}

// IsSchemas reports whether a path is the "schemas" attribute, which Parse
// resolves although the resource type's schemas do not define it.
func IsSchemas(p schema.Path) bool {
	return p.Attr != nil && p.Sub == nil && strings.EqualFold(p.Attr.Name, "schemas") &&
		(p.Schema == nil || p.Schema.Attr(p.Attr.Name) == nil)
}

// validName reports whether s is an ATTRNAME (RFC 7643 §2.1) or "$ref".
func validName(s string) bool {
	if strings.EqualFold(s, "$ref") {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// validPath reports whether s is [URN ":"] ATTRNAME ["." ATTRNAME]. The
// URN itself is checked by resolution against the resource type's schemas.
func validPath(s string) bool {
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		i := strings.LastIndexByte(s, ':')
		s = s[i+1:]
	} else if strings.Contains(s, ":") {
		return false
	}
	attr, sub, hasSub := strings.Cut(s, ".")
	if hasSub && !validName(sub) {
		return false
	}
	return validName(attr) && !strings.HasPrefix(attr, "$")
}
