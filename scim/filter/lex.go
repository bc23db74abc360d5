package filter

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/headwater/headwater/scim/scimerr"
)

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tLBracket
	tRBracket
	tString // val holds the decoded string
	tNumber // val holds the text, valid JSON number syntax
	tWord   // an attribute path, operator or keyword; val holds the text
)

type token struct {
	kind tokKind
	val  string
	off  int // byte offset in the source
	end  int // byte offset just past the token
}

// describe names a token for an error message in the client's terms.
func (t token) describe(what string) string {
	switch t.kind {
	case tEOF:
		return "the end of the " + what
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	case tLBracket:
		return `"["`
	case tRBracket:
		return `"]"`
	case tString:
		return "the string " + strconv.Quote(short(t.val))
	case tNumber:
		return "the number " + short(t.val)
	}
	return strconv.Quote(short(t.val))
}

// short cuts s for quoting in an error: a detail echoing a 4 KB token
// helps nobody.
func short(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// errorf builds the 400 error for a problem at a byte offset of src. The
// offset is reported in characters, which is what a person counting in an
// editor or a log line sees.
func errorf(scimType, src string, off int, format string, args ...any) *scimerr.Error {
	if off > len(src) {
		off = len(src)
	}
	e := scimerr.BadRequest(scimType, format, args...)
	e.Detail += " at offset " + strconv.Itoa(utf8.RuneCountInString(src[:off]))
	return e
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isWordByte covers attribute names ("$ref" included), sub-attribute dots
// and the URNs that qualify names; operators and keywords are words too.
func isWordByte(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '$'
}

// lex splits src into tokens. The source is bounded by MaxLength before
// this runs, so holding all tokens at once is cheap.
func lex(scimType, src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tEOF, off: i, end: i}), nil
		}
		start := i
		c := src[i]
		var t token
		switch {
		case c == '(':
			t, i = token{kind: tLParen}, i+1
		case c == ')':
			t, i = token{kind: tRParen}, i+1
		case c == '[':
			t, i = token{kind: tLBracket}, i+1
		case c == ']':
			t, i = token{kind: tRBracket}, i+1
		case c == '"':
			s, n, err := lexString(scimType, src, i)
			if err != nil {
				return nil, err
			}
			t, i = token{kind: tString, val: s}, n
		case c == '-' || isDigit(c):
			n, ok := scanNumber(src, i)
			if !ok || n < len(src) && isWordByte(src[n]) {
				for n < len(src) && isWordByte(src[n]) {
					n++
				}
				return nil, errorf(scimType, src, start, "%q is not a number", src[start:n])
			}
			t, i = token{kind: tNumber, val: src[start:n]}, n
		case isWordByte(c):
			for i < len(src) && isWordByte(src[i]) {
				i++
			}
			t = token{kind: tWord, val: src[start:i]}
		case c == '\'':
			return nil, errorf(scimType, src, i, "strings are quoted with double quotes (\"), not single quotes")
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, errorf(scimType, src, i, "unexpected character %q", r)
		}
		t.off, t.end = start, i
		toks = append(toks, t)
	}
}

// scanNumber scans a JSON number (RFC 8259 §6) at src[i:], returning the
// offset past it.
func scanNumber(src string, i int) (int, bool) {
	if i < len(src) && src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && isDigit(src[i]):
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i == len(src) || !isDigit(src[i]) {
			return i, false
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i == len(src) || !isDigit(src[i]) {
			return i, false
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	return i, true
}

// lexString decodes the JSON string starting at the quote at src[i],
// returning the value and the offset past the closing quote. Lone
// surrogates become U+FFFD, as encoding/json decodes them.
func lexString(scimType, src string, i int) (string, int, error) {
	start := i
	i++
	var b strings.Builder
	for {
		if i >= len(src) {
			return "", 0, errorf(scimType, src, start, "unterminated string")
		}
		c := src[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c < 0x20:
			return "", 0, errorf(scimType, src, i, "control character %q in a string must be escaped", rune(c))
		case c == '\\':
			if i+1 >= len(src) {
				return "", 0, errorf(scimType, src, start, "unterminated string")
			}
			esc := src[i+1]
			switch esc {
			case '"', '\\', '/':
				b.WriteByte(esc)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(src, i+2)
				if !ok {
					return "", 0, errorf(scimType, src, i, `invalid \u escape in a string: it needs four hex digits`)
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A high surrogate combines with a following \u low one.
					if r2, ok := hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b.WriteRune(dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
				continue
			default:
				return "", 0, errorf(scimType, src, i, "invalid escape %q in a string", src[i:i+2])
			}
			i += 2
		default:
			r, n := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && n == 1 {
				return "", 0, errorf(scimType, src, i, "a string holds bytes that are not UTF-8")
			}
			b.WriteString(src[i : i+n])
			i += n
		}
	}
}

func hex4(src string, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(src[i : i+4]) {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
