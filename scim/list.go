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
	matches, err := s.matchUsers(r, q.filter)
	if err != nil {
		return err
	}
	return s.writeList(w, s.users, matches, q)
}

// matchUsers returns the representations of the users f matches (all
// users when f is nil): from the index when f has an indexed equality,
// else by scanning a page at a time.
func (s *Server) matchUsers(r *http.Request, f filter.Expr) ([]map[string]any, error) {
	ctx := r.Context()
	var matches []map[string]any
	consider := func(u *authority.User) {
		res := s.userJSON(r, u)
		if f == nil || filter.Match(s.users, f, res) {
			matches = append(matches, res)
		}
	}
	if f != nil {
		cands, indexed, err := s.candidateUsers(ctx, f)
		if err != nil {
			return nil, err
		}
		if indexed {
			for _, u := range cands {
				consider(u)
			}
			return matches, nil
		}
	}
	after := ""
	for {
		p, err := s.auth.ListUsers(ctx, authority.ListOptions{After: after, Limit: scanPage})
		if err != nil {
			return nil, err
		}
		for _, u := range p.Items {
			consider(u)
		}
		if p.Next == "" {
			return matches, nil
		}
		after = p.Next
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// writeList sorts, pages and projects matched representations.
func (s *Server) writeList(w http.ResponseWriter, rt *schema.ResourceType, matches []map[string]any, q query) error {
	if q.sortBy != "" {
		sorter, err := resource.NewSorter(rt, q.sortBy)
		if err != nil {
			return err
		}
		slices.SortStableFunc(matches, func(a, b map[string]any) int {
			if q.descending {
				return -sorter.Compare(a, b)
			}
			return sorter.Compare(a, b)
		})
	}
	total := len(matches)
	start := min(q.startIndex-1, total)
	end := min(start+q.count, total)
	items := make([]any, 0, end-start)
	for _, m := range matches[start:end] {
		items = append(items, resource.Project(rt, m, q.attributes, q.excluded))
	}
	writeJSON(w, http.StatusOK, listResponse(items, total, q.startIndex))
	return nil
}
