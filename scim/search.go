package scim

import (
	"net/http"
	"strings"

	"github.com/headwater/headwater/scim/resource"
	"github.com/headwater/headwater/scim/schema"
)

// searchAll answers POST /.search (RFC 7644 §3.4.3): a search across
// Users and Groups. The filter applies to each resource type it can be
// read for (a filter naming userName finds no groups); a filter valid for
// neither is a 400. Users come before groups in the result unless sortBy
// orders them.
func (s *Server) searchAll(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	type part struct {
		rt *schema.ResourceType
		q  query
		ok bool
	}
	parts := []part{{rt: s.users}, {rt: s.groups}}
	var firstErr error
	for i := range parts {
		q, err := queryFromSearch(parts[i].rt, body)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		parts[i].q, parts[i].ok = q, true
	}
	if !parts[0].ok && !parts[1].ok {
		return firstErr
	}
	var q query
	for _, p := range parts {
		if p.ok {
			q = p.q
		}
	}
	col := newCollector(q)
	for _, p := range parts {
		if !p.ok {
			continue
		}
		if p.rt == s.users {
			err = s.matchUsers(r, p.q.filter, col)
		} else {
			err = s.matchGroups(r, p.q.filter, p.q.wants(s.groups, "members"), col)
		}
		if err != nil {
			return err
		}
	}
	var less func(a, b map[string]any) int
	if q.sortBy != "" {
		sorters := map[string]*resource.Sorter{}
		for _, p := range parts {
			if !p.ok {
				continue
			}
			srt, err := resource.NewSorter(p.rt, q.sortBy)
			if err != nil {
				return err
			}
			sorters[p.rt.ID] = srt
		}
		less = func(a, b map[string]any) int {
			c := sorters[resourceType(a)].Compare(a, b)
			if q.descending {
				return -c
			}
			return c
		}
	}
	matches, total := col.page(q, less)
	items := make([]any, 0, len(matches))
	for _, m := range matches {
		rt := s.users
		if resourceType(m) == s.groups.ID {
			rt = s.groups
		}
		items = append(items, resource.Project(rt, m, q.attributes, q.excluded))
	}
	writeJSON(w, http.StatusOK, listResponse(items, total, q.startIndex))
	return nil
}

func resourceType(res map[string]any) string {
	if meta, ok := res["meta"].(map[string]any); ok {
		if t, ok := meta["resourceType"].(string); ok && strings.EqualFold(t, "Group") {
			return "Group"
		}
	}
	return "User"
}
