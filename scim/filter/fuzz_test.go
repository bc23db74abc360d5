package filter

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// The seed corpora are in testdata/fuzz/<target>/, including inputs the
// fuzzer found; run with
//
//	go test -run='^$' -fuzz='^FuzzParse$' -fuzztime=60s ./scim/filter/

// FuzzParse checks that Parse and ParseCompat never panic, fail only with
// a 400 invalidFilter, and produce ASTs that render to strict filters that
// parse back equal; that Match never panics; and that every equality
// Equalities returns holds on each sample resource the filter matches.
func FuzzParse(f *testing.F) {
	rt := schema.NewUserType()
	resources := []map[string]any{decode(f, bjensen), decode(f, intern), {}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, compat := range []bool{false, true} {
			e, err := ParseWith(rt, s, Options{Compat: compat})
			if err != nil {
				checkErr(t, s, err, scimerr.InvalidFilter)
				continue
			}
			out := e.String()
			if !utf8.ValidString(out) {
				t.Fatalf("%q renders as invalid UTF-8 %q", s, out)
			}
			// Rendering only adds spaces (as in "not(" to "not ("), so a
			// filter near MaxLength may render past it.
			if len(out) <= MaxLength {
				again, err := Parse(rt, out)
				if err != nil {
					t.Fatalf("%q renders as %q, which does not parse: %v", s, out, err)
				}
				if !reflect.DeepEqual(again, e) {
					t.Fatalf("%q renders as %q, which parses as %q", s, out, again.String())
				}
			}
			eqs := Equalities(e)
			for _, res := range resources {
				if !Match(rt, e, res) {
					continue
				}
				for _, c := range eqs {
					if !Match(rt, &c, res) {
						t.Fatalf("%q matches %v but its equality %q does not", s, res, c.String())
					}
				}
			}
		}
	})
}

// FuzzParsePath checks that ParsePath never panics, fails only with a 400
// invalidPath, and renders paths that parse back equal; and that
// MatchValue never panics on the filters it returns.
func FuzzParsePath(f *testing.F) {
	rt := schema.NewUserType()
	elems := []map[string]any{{"type": "work", "value": "a@example.com", "primary": true}, {}}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(rt, s)
		if err != nil {
			checkErr(t, s, err, scimerr.InvalidPath)
			return
		}
		out := p.String()
		if len(out) <= MaxLength {
			again, err := ParsePath(rt, out)
			if err != nil {
				t.Fatalf("%q renders as %q, which does not parse: %v", s, out, err)
			}
			if !reflect.DeepEqual(again, p) {
				t.Fatalf("%q renders as %q, which parses as %q", s, out, again.String())
			}
		}
		if p.Filter != nil {
			for _, el := range elems {
				MatchValue(rt, p.Attr, p.Filter, el)
			}
		}
	})
}

func checkErr(t *testing.T, s string, err error, scimType string) {
	t.Helper()
	var se *scimerr.Error
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.ScimType != scimType || se.Detail == "" {
		t.Fatalf("%q: error %#v, want a 400 %s", s, err, scimType)
	}
	if !utf8.ValidString(se.Detail) {
		t.Fatalf("%q: detail %q is not UTF-8", s, se.Detail)
	}
}
