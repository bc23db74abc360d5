package scim

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/headwater/headwater/scim/filter"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// query is a list request: from the URL (GET) or a SearchRequest (POST
// .search).
type query struct {
	filter     filter.Expr
	attributes []string
	excluded   []string
	sortBy     string
	descending bool
	startIndex int // 1-based
	count      int
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// queryFromURL reads filter, attributes, excludedAttributes, sortBy,
// sortOrder, startIndex and count (RFC 7644 §3.4.2).
func queryFromURL(rt *schema.ResourceType, v url.Values) (query, error) {
	raw := map[string]any{}
	for _, k := range []string{"filter", "attributes", "excludedAttributes", "sortBy", "sortOrder", "startIndex", "count"} {
		if v.Has(k) {
			raw[k] = v.Get(k)
		}
	}
	return parseQuery(rt, raw)
}

// queryFromSearch reads a SearchRequest body (RFC 7644 §3.4.3).
func queryFromSearch(rt *schema.ResourceType, body map[string]any) (query, error) {
	if l, ok := body["schemas"].([]any); ok {
		found := false
		for _, s := range l {
			if str, _ := s.(string); strings.EqualFold(str, schema.SearchURN) {
				found = true
			}
		}
		if !found {
			return query{}, scimerr.BadRequest(scimerr.InvalidSyntax, "a search request needs \"schemas\": [%q]", schema.SearchURN)
		}
	}
	return parseQuery(rt, body)
}

func parseQuery(rt *schema.ResourceType, raw map[string]any) (query, error) {
	q := query{startIndex: 1, count: DefaultCount}
	get := func(name string) (any, bool) {
		for k, v := range raw {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
		return nil, false
	}
	str := func(name string) (string, error) {
		v, ok := get(name)
		if !ok || v == nil {
			return "", nil
		}
		switch x := v.(type) {
		case string:
			return x, nil
		case []any:
			var parts []string
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return "", scimerr.BadRequest(scimerr.InvalidValue, "%s must list strings", name)
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, ","), nil
		}
		return "", scimerr.BadRequest(scimerr.InvalidValue, "%s must be a string", name)
	}
	num := func(name string) (int, bool, error) {
		v, ok := get(name)
		if !ok || v == nil {
			return 0, false, nil
		}
		s := strings.TrimSpace(strings.Trim(toString(v), `"`))
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, false, scimerr.BadRequest(scimerr.InvalidValue, "%s must be a whole number, not %q", name, s)
		}
		return n, true, nil
	}
	f, err := str("filter")
	if err != nil {
		return q, err
	}
	if strings.TrimSpace(f) != "" {
		if q.filter, err = filter.ParseWith(rt, f, filter.Options{Compat: true}); err != nil {
			return q, err
		}
	}
	a, err := str("attributes")
	if err != nil {
		return q, err
	}
	q.attributes = splitList(a)
	e, err := str("excludedAttributes")
	if err != nil {
		return q, err
	}
	q.excluded = splitList(e)
	for _, p := range append(append([]string(nil), q.attributes...), q.excluded...) {
		if _, err := rt.Resolve(p); err != nil && !strings.EqualFold(p, "schemas") {
			return q, scimerr.BadRequest(scimerr.InvalidValue, "%v", err)
		}
	}
	if q.sortBy, err = str("sortBy"); err != nil {
		return q, err
	}
	if q.sortBy != "" {
		if _, err := rt.Resolve(q.sortBy); err != nil {
			return q, scimerr.BadRequest(scimerr.InvalidValue, "sortBy: %v", err)
		}
	}
	order, err := str("sortOrder")
	if err != nil {
		return q, err
	}
	switch strings.ToLower(order) {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return q, scimerr.BadRequest(scimerr.InvalidValue, "sortOrder must be ascending or descending, not %q", order)
	}
	if n, ok, err := num("startIndex"); err != nil {
		return q, err
	} else if ok && n > 1 {
		q.startIndex = n
	}
	if n, ok, err := num("count"); err != nil {
		return q, err
	} else if ok {
		q.count = max(0, min(n, MaxResults))
	}
	return q, nil
}

func toString(v any) string { return fmt.Sprint(v) }

func (q query) wants(rt *schema.ResourceType, attr string) bool {
	for _, e := range q.excluded {
		if strings.EqualFold(strings.SplitN(e, ".", 2)[0], attr) {
			return false
		}
	}
	if len(q.attributes) == 0 {
		return true
	}
	for _, a := range q.attributes {
		if strings.EqualFold(strings.SplitN(a, ".", 2)[0], attr) {
			return true
		}
	}
	return false
}
