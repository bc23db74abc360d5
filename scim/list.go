package scim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/filter"
	"github.com/headwater/headwater/scim/resource"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// scanPage is how many records a filter scan reads from the index at a
// time: a filter no index answers is evaluated page by page, never on a
// copy of every record at once.
const scanPage = 500

// candidateUsers answers a filter's indexed equalities (userName, id,
// externalId, emails.value) from the index: it returns the only user that
// can match (or none) and true, or false when no equality is indexed.
func (s *Server) candidateUsers(ctx context.Context, f filter.Expr) ([]*authority.User, bool, error) {
	for _, c := range filter.Equalities(f) {
		v, ok := c.Value.(string)
		if !ok || !c.Path.IsCore(s.users) {
			continue
		}
		var by authority.LookupField
		name := strings.ToLower(c.Path.Attr.Name)
		switch {
		case name == "id" && c.Path.Sub == nil:
			u, err := s.auth.GetUser(ctx, v)
			return found(u, err)
		case name == "username" && c.Path.Sub == nil:
			by = authority.ByUserName
		case name == "externalid" && c.Path.Sub == nil:
			by = authority.ByExternalID
		case name == "emails" && c.Path.Sub != nil && strings.EqualFold(c.Path.Sub.Name, "value"):
			by = authority.ByEmail
		default:
			continue
		}
		u, err := s.auth.LookupUser(ctx, by, v)
		return found(u, err)
	}
	return nil, false, nil
}

func found[T any](x T, err error) ([]T, bool, error) {
	if err == nil {
		return []T{x}, true, nil
	}
	if isNotFound(err) {
		return nil, true, nil
	}
	return nil, true, err
}

func isNotFound(err error) bool { return errors.Is(err, authority.ErrNotFound) }

// answerUsers runs a list query. Without filter and sort, the page comes
// straight from the index in userName order; with an indexed equality in
// the filter, from one lookup; otherwise the users are scanned a page at a
// time and matched.
func (s *Server) answerUsers(w http.ResponseWriter, r *http.Request, q query) error {
	ctx := r.Context()
	if q.filter == nil && (q.sortBy == "" || strings.EqualFold(q.sortBy, "userName")) && !q.descending {
		p, err := s.auth.ListUsers(ctx, authority.ListOptions{Offset: q.startIndex - 1, Limit: max(q.count, 1)})
		if err != nil {
			return err
		}
		items := []any{}
		if q.count > 0 {
			for _, u := range p.Items {
				items = append(items, resource.Project(s.users, s.userJSON(r, u), q.attributes, q.excluded))
			}
		}
		writeJSON(w, http.StatusOK, listResponse(items, p.Total, q.startIndex))
		return nil
	}
	col := newCollector(q)
	if err := s.matchUsers(r, q.filter, col); err != nil {
		return err
	}
	return s.writeList(w, s.users, col, q)
}

// matchUsers hands the representations of the users f matches (all users
// when f is nil) to col: from the index when f has an indexed equality,
// else by scanning a page at a time.
func (s *Server) matchUsers(r *http.Request, f filter.Expr, col *collector) error {
	ctx := r.Context()
	consider := func(u *authority.User) error {
		res := s.userJSON(r, u)
		if f == nil || filter.Match(s.users, f, res) {
			return col.add(res)
		}
		return nil
	}
	if f != nil {
		cands, indexed, err := s.candidateUsers(ctx, f)
		if err != nil {
			return err
		}
		if indexed {
			for _, u := range cands {
				if err := consider(u); err != nil {
					return err
				}
			}
			return nil
		}
	}
	after := ""
	for {
		p, err := s.auth.ListUsers(ctx, authority.ListOptions{After: after, Limit: scanPage})
		if err != nil {
			return err
		}
		for _, u := range p.Items {
			if err := consider(u); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		after = p.Next
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// maxSorted bounds how many matches a sorted list holds in memory: only a
// sort needs every match at once.
const maxSorted = 100000

// collector keeps what a list answer needs from a stream of matches. To
// sort, it keeps every match (up to maxSorted; beyond, the client is told
// to narrow the filter); otherwise only the requested page, counting the
// rest, so a filter matching a million users costs a page of memory.
type collector struct {
	sorting    bool
	maxSorted  int
	start, end int // the page, 0-based, [start, end)
	n          int
	kept       []map[string]any
}

func newCollector(q query) *collector {
	start := q.startIndex - 1
	return &collector{sorting: q.sortBy != "", maxSorted: maxSorted, start: start, end: start + q.count}
}

func (c *collector) add(m map[string]any) error {
	i := c.n
	c.n++
	switch {
	case c.sorting:
		if len(c.kept) >= c.maxSorted {
			return scimerr.BadRequest(scimerr.TooMany, "sortBy over more than %d results is refused; narrow the filter", c.maxSorted)
		}
		c.kept = append(c.kept, m)
	case i >= c.start && i < c.end:
		c.kept = append(c.kept, m)
	}
	return nil
}

// page returns the requested page and the total count.
func (c *collector) page(q query, less func(a, b map[string]any) int) ([]map[string]any, int) {
	if !c.sorting {
		return c.kept, c.n
	}
	slices.SortStableFunc(c.kept, less)
	start := min(c.start, len(c.kept))
	end := min(start+q.count, len(c.kept))
	return c.kept[start:end], c.n
}

// writeList sorts, pages and projects what the collector kept.
func (s *Server) writeList(w http.ResponseWriter, rt *schema.ResourceType, col *collector, q query) error {
	var less func(a, b map[string]any) int
	if q.sortBy != "" {
		sorter, err := resource.NewSorter(rt, q.sortBy)
		if err != nil {
			return err
		}
		less = func(a, b map[string]any) int {
			if q.descending {
				return -sorter.Compare(a, b)
			}
			return sorter.Compare(a, b)
		}
	}
	matches, total := col.page(q, less)
	items := make([]any, 0, len(matches))
	for _, m := range matches {
		items = append(items, resource.Project(rt, m, q.attributes, q.excluded))
	}
	writeJSON(w, http.StatusOK, listResponse(items, total, q.startIndex))
	return nil
}
