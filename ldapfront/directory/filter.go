package directory

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// Filter choice tags (RFC 4511 section 4.5.1.7).
const (
	tagAnd        = 0
	tagOr         = 1
	tagNot        = 2
	tagEquality   = 3
	tagSubstrings = 4
	tagGreater    = 5
	tagLess       = 6
	tagPresent    = 7
	tagApprox     = 8
	tagExtensible = 9
)

// tri is a filter result under RFC 4511's three-valued logic.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// maxFilterDepth bounds recursion on filters that did not come through the
// wire decoder's own caps.
const maxFilterDepth = 64

// errFilter marks a malformed filter; the server answers protocolError.
var errFilter = errors.New("malformed filter")

// rule is an extensible match's matching rule, resolved.
type rule int

const (
	ruleEquality   rule = iota // none given: the attribute's equality rule
	ruleCaseIgnore             // caseIgnoreMatch, caseIgnoreIA5Match
	ruleCaseExact              // caseExactMatch, caseExactIA5Match
	ruleDN                     // distinguishedNameMatch
	ruleInChain                // AD LDAP_MATCHING_RULE_IN_CHAIN: DN equality, groups are flat
	ruleInteger                // integerMatch
	ruleBitAnd                 // AD LDAP_MATCHING_RULE_BIT_AND
	ruleBitOr                  // AD LDAP_MATCHING_RULE_BIT_OR
	ruleOID                    // objectIdentifierMatch
	ruleTime                   // generalizedTimeMatch
	ruleUnknown
)

var rules = map[string]rule{
	"2.5.13.2": ruleCaseIgnore, "caseignorematch": ruleCaseIgnore,
	"1.3.6.1.4.1.1466.109.114.2": ruleCaseIgnore, "caseignoreia5match": ruleCaseIgnore,
	"2.5.13.5": ruleCaseExact, "caseexactmatch": ruleCaseExact,
	"1.3.6.1.4.1.1466.109.114.1": ruleCaseExact, "caseexactia5match": ruleCaseExact,
	"2.5.13.1": ruleDN, "distinguishednamematch": ruleDN,
	"1.2.840.113556.1.4.1941": ruleInChain,
	"2.5.13.14":               ruleInteger, "integermatch": ruleInteger,
	"1.2.840.113556.1.4.803": ruleBitAnd,
	"1.2.840.113556.1.4.804": ruleBitOr,
	"2.5.13.0":               ruleOID, "objectidentifiermatch": ruleOID,
	"2.5.13.27": ruleTime, "generalizedtimematch": ruleTime,
}

// applies reports whether rule r can compare values of syntax s.
func (r rule) applies(s syntax) bool {
	switch r {
	case ruleEquality:
		return true
	case ruleCaseIgnore, ruleCaseExact:
		return s == synString || s == synPhone
	case ruleDN, ruleInChain:
		return s == synDN
	case ruleInteger, ruleBitAnd, ruleBitOr:
		return s == synInteger
	case ruleOID:
		return s == synOID
	case ruleTime:
		return s == synTime
	}
	return false
}

// filter is a compiled search filter.
type filter struct {
	tag      int
	kids     []*filter
	attrName string
	attr     *attrDef // nil when the directory does not know attrName
	raw      string   // the assertion value as sent
	val      value    // raw in the matching form of attr's syntax
	initial  string   // substrings, folded
	any      []string
	final    string
	rule     rule
	dnAttrs  bool
}

// compileFilter turns a filter packet into a filter, checking its shape so
// that evaluation cannot fail.
func compileFilter(p *ber.Packet) (*filter, error) { return compile(p, 0) }

func compile(p *ber.Packet, depth int) (*filter, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: missing element", errFilter)
	}
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errFilter, maxFilterDepth)
	}
	if p.ClassType != ber.ClassContext {
		return nil, fmt.Errorf("%w: element is not context-tagged", errFilter)
	}
	f := &filter{tag: int(p.Tag)}
	switch f.tag {
	case tagAnd, tagOr, tagNot:
		if f.tag == tagNot && len(p.Children) != 1 {
			return nil, fmt.Errorf("%w: not needs one filter", errFilter)
		}
		for _, c := range p.Children {
			k, err := compile(c, depth+1)
			if err != nil {
				return nil, err
			}
			f.kids = append(f.kids, k)
		}
	case tagEquality, tagGreater, tagLess, tagApprox:
		if len(p.Children) != 2 {
			return nil, fmt.Errorf("%w: attribute value assertion needs two elements", errFilter)
		}
		f.setAttr(octets(p.Children[0]))
		f.raw = octets(p.Children[1])
		if f.attr != nil {
			f.val = normalize(f.attr.syntax, f.raw)
		}
	case tagSubstrings:
		if len(p.Children) != 2 {
			return nil, fmt.Errorf("%w: substring filter needs two elements", errFilter)
		}
		f.setAttr(octets(p.Children[0]))
		for i, s := range p.Children[1].Children {
			v := foldInner(octets(s))
			switch {
			case s.Tag == 0 && i == 0:
				f.initial = v
			case s.Tag == 1:
				f.any = append(f.any, v)
			case s.Tag == 2 && i == len(p.Children[1].Children)-1:
				f.final = v
			default:
				return nil, fmt.Errorf("%w: substring choice %d at position %d", errFilter, s.Tag, i)
			}
		}
	case tagPresent:
		f.setAttr(octets(p))
	case tagExtensible:
		hasValue := false
		for _, c := range p.Children {
			switch c.Tag {
			case 1:
				r, ok := rules[strings.ToLower(strings.TrimSpace(octets(c)))]
				if !ok {
					r = ruleUnknown
				}
				f.rule = r
			case 2:
				f.setAttr(octets(c))
			case 3:
				f.raw = octets(c)
				hasValue = true
			case 4:
				b := c.Data.Bytes()
				f.dnAttrs = len(b) > 0 && b[0] != 0
			default:
				return nil, fmt.Errorf("%w: extensible match element %d", errFilter, c.Tag)
			}
		}
		if !hasValue {
			return nil, fmt.Errorf("%w: extensible match without a value", errFilter)
		}
		if f.attrName == "" && f.rule == ruleEquality {
			return nil, fmt.Errorf("%w: extensible match needs a type or a matching rule", errFilter)
		}
		if f.attr != nil {
			f.val = normalize(f.attr.syntax, f.raw)
		}
	default:
		return nil, fmt.Errorf("%w: unknown filter choice %d", errFilter, f.tag)
	}
	return f, nil
}

func (f *filter) setAttr(name string) {
	f.attrName = name
	f.attr = lookupAttr(name)
}

// octets reads a primitive element's content; ber leaves Value unset on
// context-tagged elements, so Data is the one reliable source.
func octets(p *ber.Packet) string {
	if p == nil || p.Data == nil {
		return ""
	}
	return p.Data.String()
}

// foldInner lowercases and collapses runs of spaces without trimming, so
// that a substring's edge spaces still count.
func foldInner(v string) string {
	v = strings.ToLower(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	space := false
	for _, r := range v {
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// uses reports whether the filter reads attribute d (or could, through an
// extensible match without a type).
func (f *filter) uses(d *attrDef) bool {
	if f.tag == tagExtensible && f.attrName == "" {
		return true
	}
	if f.attr == d && f.tag != tagAnd && f.tag != tagOr && f.tag != tagNot {
		return true
	}
	for _, k := range f.kids {
		if k.uses(d) {
			return true
		}
	}
	return false
}

// eval evaluates the filter against e (RFC 4511 section 4.5.1.7).
func (f *filter) eval(e *entry) tri {
	switch f.tag {
	case tagAnd:
		out := triTrue
		for _, k := range f.kids {
			switch k.eval(e) {
			case triFalse:
				return triFalse
			case triUndefined:
				out = triUndefined
			}
		}
		return out
	case tagOr:
		out := triFalse
		for _, k := range f.kids {
			switch k.eval(e) {
			case triTrue:
				return triTrue
			case triUndefined:
				out = triUndefined
			}
		}
		return out
	case tagNot:
		switch f.kids[0].eval(e) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case tagPresent:
		if f.attr == nil {
			return triFalse
		}
		return truth(len(e.attrs[f.attr.idx]) > 0)
	case tagEquality, tagApprox:
		if f.attr == nil || !f.val.ok {
			return triUndefined
		}
		for _, v := range e.matching(f.attr) {
			if v.ok && equal(f.attr.syntax, v, f.val) {
				return triTrue
			}
		}
		return triFalse
	case tagGreater, tagLess:
		if f.attr == nil || !f.val.ok {
			return triUndefined
		}
		if _, ok := compare(f.attr.syntax, f.val, f.val); !ok {
			return triUndefined
		}
		for _, v := range e.matching(f.attr) {
			if !v.ok {
				continue
			}
			c, _ := compare(f.attr.syntax, v, f.val)
			if (f.tag == tagGreater && c >= 0) || (f.tag == tagLess && c <= 0) {
				return triTrue
			}
		}
		return triFalse
	case tagSubstrings:
		if f.attr == nil || (f.attr.syntax != synString && f.attr.syntax != synPhone) {
			return triUndefined
		}
		for _, v := range e.attrs[f.attr.idx] {
			if f.substrings(foldInner(strings.TrimSpace(v))) {
				return triTrue
			}
		}
		return triFalse
	case tagExtensible:
		return f.extensible(e)
	}
	return triUndefined
}

func truth(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func (f *filter) substrings(v string) bool {
	if !strings.HasPrefix(v, f.initial) {
		return false
	}
	v = v[len(f.initial):]
	for _, a := range f.any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, f.final)
}

func (f *filter) extensible(e *entry) tri {
	if f.rule == ruleUnknown || (f.attrName != "" && f.attr == nil) {
		return triUndefined
	}
	if f.attr != nil {
		if !f.rule.applies(f.attr.syntax) {
			return triUndefined
		}
		r := f.matchAttr(e, f.attr, f.val)
		if r == triTrue || !f.dnAttrs {
			return r
		}
		if f.matchRDNs(e) {
			return triTrue
		}
		return r
	}
	// No type: every attribute the rule applies to (RFC 4511 4.5.1.7.7).
	out := triFalse
	for _, d := range attrDefs {
		if len(e.attrs[d.idx]) == 0 || !f.rule.applies(d.syntax) {
			continue
		}
		switch f.matchAttr(e, d, normalize(d.syntax, f.raw)) {
		case triTrue:
			return triTrue
		case triUndefined:
			out = triUndefined
		}
	}
	if f.dnAttrs && f.matchRDNs(e) {
		return triTrue
	}
	return out
}

// matchAttr applies the filter's rule to the values of d; av is the
// assertion in d's matching form.
func (f *filter) matchAttr(e *entry, d *attrDef, av value) tri {
	switch f.rule {
	case ruleCaseExact:
		want := strings.Join(strings.Fields(f.raw), " ")
		for _, v := range e.attrs[d.idx] {
			if strings.Join(strings.Fields(v), " ") == want {
				return triTrue
			}
		}
		return triFalse
	case ruleBitAnd, ruleBitOr:
		mask, err := strconv.ParseInt(strings.TrimSpace(f.raw), 10, 64)
		if err != nil {
			return triUndefined
		}
		for _, v := range e.matching(d) {
			if v.ok && ((f.rule == ruleBitAnd && v.num&mask == mask) || (f.rule == ruleBitOr && v.num&mask != 0)) {
				return triTrue
			}
		}
		return triFalse
	}
	if !av.ok {
		return triUndefined
	}
	for _, v := range e.matching(d) {
		if v.ok && equal(d.syntax, v, av) {
			return triTrue
		}
	}
	return triFalse
}

// matchRDNs implements dnAttributes: the assertion also matches the
// string values in the entry's own DN.
func (f *filter) matchRDNs(e *entry) bool {
	if f.rule != ruleEquality && f.rule != ruleCaseIgnore && f.rule != ruleCaseExact {
		return false
	}
	if e.rdns == nil {
		e.rdns, _ = parseDN(e.dn)
	}
	want := foldSpace(f.raw)
	for _, r := range e.rdns {
		if f.attr != nil && r.typ != strings.ToLower(f.attr.name) {
			continue
		}
		if r.val == want {
			return true
		}
	}
	return false
}
