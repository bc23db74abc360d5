package graphemu

import (
	"fmt"
	"net/http"
	"strings"
)

// The $filter dialect Graph accepts on /users without advanced query parameters: eq on a
// handful of properties, startswith on string ones, combined with and/or and parentheses.
// Everything else that Graph knows (ne, not, endswith, in, any, comparisons) needs
// ConsistencyLevel: eventual and $count there, which the emulator does not emulate, so it is
// refused with the error Graph gives for an unsupported clause.

// filterExpr is a parsed $filter.
type filterExpr interface {
	match(u *user) bool
	String() string
}

type eqExpr struct {
	prop  string
	str   string
	isStr bool
	b     bool
}

func (x eqExpr) match(u *user) bool {
	if x.isStr {
		s, ok := u.props[x.prop].(string)
		return ok && strings.EqualFold(s, x.str)
	}
	b, ok := u.props[x.prop].(bool)
	return ok && b == x.b
}

func (x eqExpr) String() string {
	if x.isStr {
		return x.prop + " eq " + quoteODataString(x.str)
	}
	return fmt.Sprintf("%s eq %t", x.prop, x.b)
}

type startsWithExpr struct {
	prop, prefix string
}

func (x startsWithExpr) match(u *user) bool {
	s, ok := u.props[x.prop].(string)
	return ok && len(s) >= len(x.prefix) && strings.EqualFold(s[:len(x.prefix)], x.prefix)
}

func (x startsWithExpr) String() string {
	return "startswith(" + x.prop + "," + quoteODataString(x.prefix) + ")"
}

type boolExpr struct {
	and  bool
	l, r filterExpr
}

func (x boolExpr) match(u *user) bool {
	if x.and {
		return x.l.match(u) && x.r.match(u)
	}
	return x.l.match(u) || x.r.match(u)
}

// String renders the expression with only the parentheses its structure needs, so that
// parsing the result gives the same tree (and is never nested deeper than the input was).
func (x boolExpr) String() string {
	op := " or "
	if x.and {
		op = " and "
	}
	l := x.l.String()
	if lb, ok := x.l.(boolExpr); ok && x.and && !lb.and {
		l = "(" + l + ")"
	}
	r := x.r.String()
	if _, ok := x.r.(boolExpr); ok {
		r = "(" + r + ")"
	}
	return l + op + r
}

func quoteODataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// filterError is a $filter Graph refuses: code and message as Graph words them.
type filterError struct {
	code, message string
}

func (f *filterError) Error() string { return f.code + ": " + f.message }

func (f *filterError) apiError() *apiError {
	return newError(http.StatusBadRequest, f.code, f.message)
}

func syntaxError(input string, pos int, what string) *filterError {
	return &filterError{code: "BadRequest", message: fmt.Sprintf("Invalid filter clause: %s at position %d in '%s'.", what, pos, input)}
}

func unsupportedProperty(prop string) *filterError {
	return &filterError{code: "Request_UnsupportedQuery",
		message: fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", prop)}
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokComma
	tokOther
)

type token struct {
	kind tokKind
	text string // identifier or number text; string literal value, unquoted
	pos  int
}

func lexFilter(s string) ([]token, *filterError) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tokLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tokRParen, ")", i})
			i++
		case c == ',':
			out = append(out, token{tokComma, ",", i})
			i++
		case c == '\'':
			start := i
			i++
			var b strings.Builder
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, syntaxError(s, start, "unterminated string literal")
			}
			out = append(out, token{tokString, b.String(), start})
		case isIdentByte(c, true):
			start := i
			for i < len(s) && isIdentByte(s[i], false) {
				i++
			}
			out = append(out, token{tokIdent, s[start:i], start})
		case c >= '0' && c <= '9' || c == '-':
			start := i
			i++
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
				i++
			}
			out = append(out, token{tokNumber, s[start:i], start})
		default:
			out = append(out, token{tokOther, string(c), i})
			i++
		}
	}
	out = append(out, token{tokEOF, "", len(s)})
	return out, nil
}

func isIdentByte(c byte, first bool) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || c == '@' {
		return true
	}
	return !first && (c >= '0' && c <= '9' || c == '.' || c == '/')
}

// maxFilterDepth bounds nesting so a hostile $filter cannot exhaust the stack.
const maxFilterDepth = 32

type filterParser struct {
	input string
	toks  []token
	i     int
	depth int
}

// parseFilter parses a $filter expression for /users.
func parseFilter(s string) (filterExpr, *filterError) {
	if strings.TrimSpace(s) == "" {
		return nil, syntaxError(s, 0, "the expression is empty")
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{input: s, toks: toks}
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, syntaxError(s, t.pos, "unexpected '"+t.text+"'")
	}
	return x, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }

func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *filterParser) keyword(word string) bool {
	t := p.peek()
	return t.kind == tokIdent && strings.EqualFold(t.text, word)
}

func (p *filterParser) parseOr() (filterExpr, *filterError) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = boolExpr{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (filterExpr, *filterError) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = boolExpr{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *filterParser) parseUnary() (filterExpr, *filterError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, syntaxError(p.input, p.peek().pos, "the expression is nested too deeply")
	}
	t := p.peek()
	switch {
	case t.kind == tokLParen:
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, syntaxError(p.input, c.pos, "')' expected")
		}
		return x, nil
	case p.keyword("not"):
		return nil, &filterError{code: "Request_UnsupportedQuery", message: "Unsupported query filter clause operator 'not'."}
	case t.kind == tokIdent:
		p.next()
		if p.peek().kind == tokLParen {
			return p.parseFunc(t)
		}
		return p.parseComparison(t)
	case t.kind == tokEOF:
		return nil, syntaxError(p.input, t.pos, "expression expected")
	}
	return nil, syntaxError(p.input, t.pos, "unexpected '"+t.text+"'")
}

// lookupFilterProp resolves a property name in a filter to its definition.
func lookupFilterProp(name string) (propDef, *filterError) {
	def, ok := userPropsByLower[strings.ToLower(name)]
	if !ok {
		return propDef{}, &filterError{code: "BadRequest",
			message: fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", name)}
	}
	if !def.filter {
		return propDef{}, unsupportedProperty(def.name)
	}
	return def, nil
}

var unsupportedOps = map[string]string{
	"ne": "NotEqualsMatch", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
	"lt": "LessThan", "le": "LessThanOrEqual", "in": "In", "has": "Has",
}

func (p *filterParser) parseComparison(propTok token) (filterExpr, *filterError) {
	op := p.next()
	if op.kind != tokIdent {
		return nil, syntaxError(p.input, op.pos, "operator expected after '"+propTok.text+"'")
	}
	opName := strings.ToLower(op.text)
	if opName != "eq" {
		if name, ok := unsupportedOps[opName]; ok {
			if _, err := lookupFilterProp(propTok.text); err != nil {
				return nil, err
			}
			return nil, &filterError{code: "Request_UnsupportedQuery",
				message: fmt.Sprintf("Unsupported property filter clause operator '%s'.", name)}
		}
		return nil, syntaxError(p.input, op.pos, "unknown operator '"+op.text+"'")
	}
	def, err := lookupFilterProp(propTok.text)
	if err != nil {
		return nil, err
	}
	lit := p.next()
	switch def.kind {
	case kindBool:
		if lit.kind == tokIdent && (strings.EqualFold(lit.text, "true") || strings.EqualFold(lit.text, "false")) {
			return eqExpr{prop: def.name, b: strings.EqualFold(lit.text, "true")}, nil
		}
	case kindString:
		if lit.kind == tokString {
			return eqExpr{prop: def.name, str: lit.text, isStr: true}, nil
		}
	}
	if lit.kind == tokIdent && strings.EqualFold(lit.text, "null") {
		return nil, unsupportedProperty(def.name)
	}
	if lit.kind == tokEOF {
		return nil, syntaxError(p.input, lit.pos, "literal expected")
	}
	return nil, &filterError{code: "BadRequest", message: fmt.Sprintf(
		"Invalid filter clause: A binary operator with incompatible types was detected. Found operand types for property '%s' and literal '%s'.", def.name, lit.text)}
}

func (p *filterParser) parseFunc(name token) (filterExpr, *filterError) {
	p.next() // (
	fn := strings.ToLower(name.text)
	if fn != "startswith" {
		switch fn {
		case "endswith", "contains", "substringof", "tolower", "toupper", "length", "indexof", "trim", "concat", "any", "all":
			return nil, &filterError{code: "Request_UnsupportedQuery", message: fmt.Sprintf("Unsupported query filter function '%s'.", name.text)}
		}
		return nil, syntaxError(p.input, name.pos, "unknown function '"+name.text+"'")
	}
	propTok := p.next()
	if propTok.kind != tokIdent {
		return nil, syntaxError(p.input, propTok.pos, "property expected in startswith")
	}
	if c := p.next(); c.kind != tokComma {
		return nil, syntaxError(p.input, c.pos, "',' expected")
	}
	lit := p.next()
	if lit.kind != tokString {
		return nil, syntaxError(p.input, lit.pos, "string literal expected in startswith")
	}
	if c := p.next(); c.kind != tokRParen {
		return nil, syntaxError(p.input, c.pos, "')' expected")
	}
	def, err := lookupFilterProp(propTok.text)
	if err != nil {
		return nil, err
	}
	if def.kind != kindString || def.name == "id" {
		return nil, unsupportedProperty(def.name)
	}
	return startsWithExpr{prop: def.name, prefix: lit.text}, nil
}
