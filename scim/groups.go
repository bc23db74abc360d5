package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/filter"
	"github.com/headwater/headwater/scim/patch"
	"github.com/headwater/headwater/scim/resource"
	"github.com/headwater/headwater/scim/scimerr"
)

// members loads a group's members for its representation.
func (s *Server) members(ctx context.Context, gid string) ([]resource.MemberRef, error) {
	var out []resource.MemberRef
	after := ""
	for {
		p, err := s.auth.Members(ctx, gid, authority.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, id := range p.Items {
			m := resource.MemberRef{ID: id}
			if u, err := s.auth.GetUser(ctx, id); err == nil {
				m.Display = u.DisplayName
				if m.Display == "" {
					m.Display = u.UserName
				}
			}
			out = append(out, m)
		}
		if p.Next == "" {
			return out, nil
		}
		after = p.Next
	}
}

// groupJSON renders a group; members are loaded only when wanted, since
// clients exclude them on large groups for exactly that reason.
func (s *Server) groupJSON(r *http.Request, g *authority.Group, withMembers bool) (map[string]any, error) {
	var ms []resource.MemberRef
	if withMembers {
		var err error
		if ms, err = s.members(r.Context(), g.ID); err != nil {
			return nil, err
		}
	}
	return resource.GroupToSCIM(g, ms, withMembers, s.base(r)), nil
}

func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *authority.Group, q query) error {
	res, err := s.groupJSON(r, g, q.wants(s.groups, "members"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(g.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", s.base(r)+"/Groups/"+g.ID)
	}
	writeJSON(w, status, resource.Project(s.groups, res, q.attributes, q.excluded))
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	g := &authority.Group{}
	members, _, err := resource.GroupFromSCIM(body, g)
	if err != nil {
		return err
	}
	ctx := r.Context()
	created, err := s.auth.CreateGroup(ctx, g)
	if err != nil {
		return err
	}
	if len(members) > 0 {
		if err := s.auth.AddMembers(ctx, created.ID, members); err != nil {
			// All or nothing: a group whose members could not be added
			// is removed again, so a retry does not meet a conflict.
			if derr := s.auth.DeleteGroup(ctx, created.ID, 0); derr != nil {
				s.log.Error("removing a half-created group failed", "group", created.ID, "err", derr)
			}
			if errors.Is(err, authority.ErrNotFound) {
				return scimerr.BadRequest(scimerr.InvalidValue, "members: %v", err)
			}
			return err
		}
	}
	q, _ := queryFromURL(s.groups, r.URL.Query())
	return s.writeGroup(w, r, http.StatusCreated, created, q)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	q, err := queryFromURL(s.groups, r.URL.Query())
	if err != nil {
		return err
	}
	g, err := s.auth.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if notModified(w, r, g.Version) {
		return nil
	}
	return s.writeGroup(w, r, http.StatusOK, g, q)
}

// replaceGroup writes a full representation: attributes through the group
// record, members as the difference to the current ones (one key each).
// Up to authority.MaxAtomicMembers member changes go in the same
// transaction as the attributes, so the whole change applies or none of
// it; beyond that the members are checked first, then written in batches.
func (s *Server) replaceGroup(ctx context.Context, id string, version int64, rep map[string]any) (*authority.Group, error) {
	var scratch authority.Group
	members, given, err := resource.GroupFromSCIM(rep, &scratch)
	if err != nil {
		return nil, err
	}
	apply := func(g *authority.Group) error {
		_, _, err := resource.GroupFromSCIM(rep, g)
		return err
	}
	var add, remove []string
	if given {
		cur, err := s.members(ctx, id)
		if err != nil {
			return nil, err
		}
		add, remove = memberDiff(cur, members)
	}
	for _, uid := range add {
		if _, err := s.auth.GetUser(ctx, uid); err != nil {
			if errors.Is(err, authority.ErrNotFound) {
				return nil, scimerr.BadRequest(scimerr.InvalidValue, "members: no user has id %q", uid)
			}
			return nil, err
		}
	}
	if len(add)+len(remove) <= authority.MaxAtomicMembers {
		g, err := s.auth.ChangeGroup(ctx, id, version, apply, add, remove)
		if errors.Is(err, authority.ErrNotFound) && !isGroupNotFound(err) {
			return nil, scimerr.BadRequest(scimerr.InvalidValue, "members: %v", err)
		}
		return g, err
	}
	g, err := s.auth.UpdateGroup(ctx, id, version, apply)
	if err != nil {
		return nil, err
	}
	if err := s.auth.AddMembers(ctx, id, add); err != nil {
		return nil, err
	}
	if err := s.auth.RemoveMembers(ctx, id, remove); err != nil {
		return nil, err
	}
	return g, nil
}

func isGroupNotFound(err error) bool {
	var nf *authority.NotFoundError
	return errors.As(err, &nf) && nf.Kind == "group"
}

// memberDiff returns who to add and who to remove to go from cur to want.
func memberDiff(cur []resource.MemberRef, want []string) (add, remove []string) {
	wanted := map[string]bool{}
	for _, m := range want {
		wanted[m] = true
	}
	have := map[string]bool{}
	for _, m := range cur {
		have[m.ID] = true
		if !wanted[m.ID] {
			remove = append(remove, m.ID)
		}
	}
	for _, m := range want {
		if !have[m] {
			add = append(add, m)
			have[m] = true
		}
	}
	return add, remove
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	g, err := s.replaceGroup(r.Context(), r.PathValue("id"), version, body)
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g, query{})
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	ops, err := patch.ParseRequest(body, patch.Options{Compat: true})
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if handled, err := s.patchMembersOnly(ctx, id, version, ops); handled || err != nil {
		if err != nil {
			return err
		}
		return s.answerPatchedGroup(w, r, id)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.auth.GetGroup(ctx, id)
		if err != nil {
			return err
		}
		if version != 0 && cur.Version != version {
			return scimerr.New(http.StatusPreconditionFailed, "", "the group is at version %s, not %s", etag(cur.Version), etag(version))
		}
		rep, err := s.groupJSON(r, cur, true)
		if err != nil {
			return err
		}
		next, err := patch.Apply(s.groups, rep, ops, s.pathParser(s.groups), patch.Options{Compat: true})
		if err != nil {
			return err
		}
		_, err = s.replaceGroup(ctx, id, cur.Version, next)
		if errors.Is(err, authority.ErrPrecondition) && version == 0 && attempt < maxPatchAttempts {
			continue
		}
		if err != nil {
			return err
		}
		return s.answerPatchedGroup(w, r, id)
	}
}

// answerPatchedGroup answers a group PATCH. Entra and Okta ignore the
// body; without members (which can be huge) it stays small.
func (s *Server) answerPatchedGroup(w http.ResponseWriter, r *http.Request, id string) error {
	g, err := s.auth.GetGroup(r.Context(), id)
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g, query{excluded: []string{"members"}})
}

// patchMembersOnly applies a PATCH whose operations all add or remove
// members by id (what provisioning clients send to large groups) directly
// as member keys, without reading the membership: a PATCH adding one
// member to a group of 100,000 costs one small transaction. It reports
// false when the PATCH has any other kind of operation.
func (s *Server) patchMembersOnly(ctx context.Context, id string, version int64, ops []patch.Op) (bool, error) {
	type change struct {
		add bool
		ids []string
	}
	var changes []change
	for _, op := range ops {
		ids, ok := memberOp(op)
		if !ok {
			return false, nil
		}
		changes = append(changes, change{add: op.Op == "add", ids: ids})
	}
	// Net effect of the operations, in order: a later op wins.
	net := map[string]bool{}
	var order []string
	for _, c := range changes {
		for _, uid := range c.ids {
			if _, seen := net[uid]; !seen {
				order = append(order, uid)
			}
			net[uid] = c.add
		}
	}
	var add, remove []string
	for _, uid := range order {
		if net[uid] {
			add = append(add, uid)
		} else {
			remove = append(remove, uid)
		}
	}
	for _, uid := range add {
		if _, err := s.auth.GetUser(ctx, uid); err != nil {
			if errors.Is(err, authority.ErrNotFound) {
				return true, scimerr.BadRequest(scimerr.InvalidValue, "members: no user has id %q", uid)
			}
			return true, err
		}
	}
	if len(changes) == 1 && version == 0 {
		// The common case (one add or one remove): member keys only, no
		// write to the group record, so concurrent PATCHes never contend.
		var err error
		if len(add) > 0 {
			err = s.auth.AddMembers(ctx, id, add)
		} else {
			err = s.auth.RemoveMembers(ctx, id, remove)
		}
		if errors.Is(err, authority.ErrNotFound) && !isGroupNotFound(err) {
			return true, scimerr.BadRequest(scimerr.InvalidValue, "members: %v", err)
		}
		return true, err
	}
	if len(add)+len(remove) <= authority.MaxAtomicMembers {
		// Several operations, or an If-Match: one transaction, all or none.
		_, err := s.auth.ChangeGroup(ctx, id, version, nil, add, remove)
		if errors.Is(err, authority.ErrNotFound) && !isGroupNotFound(err) {
			return true, scimerr.BadRequest(scimerr.InvalidValue, "members: %v", err)
		}
		return true, err
	}
	g, err := s.auth.GetGroup(ctx, id)
	if err != nil {
		return true, err
	}
	if version != 0 && g.Version != version {
		return true, scimerr.New(http.StatusPreconditionFailed, "", "the group is at version %s, not %s", etag(g.Version), etag(version))
	}
	// Larger changes go in batches of member keys; every added user was
	// checked above, so only an etcd failure can stop them half way.
	if err := s.auth.AddMembers(ctx, id, add); err != nil {
		return true, err
	}
	return true, s.auth.RemoveMembers(ctx, id, remove)
}

// memberOp recognises `add members [{value}]`, `remove members[value eq
// "id"]` and Entra's `remove members [{value}]`.
func memberOp(op patch.Op) ([]string, bool) {
	path := strings.TrimSpace(op.Path)
	if strings.EqualFold(path, "members") && (op.Op == "add" || (op.Op == "remove" && op.Value != nil)) {
		var ids []string
		list, ok := op.Value.([]any)
		if !ok {
			list = []any{op.Value}
		}
		for _, v := range list {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			id, ok := valueOf(m)
			if !ok {
				return nil, false
			}
			ids = append(ids, id)
		}
		return ids, len(ids) > 0
	}
	if op.Op == "remove" && op.Value == nil {
		// members[value eq "id"]
		lower := strings.ToLower(path)
		if strings.HasPrefix(lower, "members[value eq \"") && strings.HasSuffix(path, "\"]") {
			id := path[len(`members[value eq "`) : len(path)-2]
			if id != "" && !strings.ContainsAny(id, `"\[]`) {
				return []string{id}, true
			}
		}
	}
	return nil, false
}

func valueOf(m map[string]any) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, "value") {
			s, ok := v.(string)
			return s, ok && s != ""
		}
	}
	return "", false
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := s.auth.DeleteGroup(r.Context(), r.PathValue("id"), version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	q, err := queryFromURL(s.groups, r.URL.Query())
	if err != nil {
		return err
	}
	return s.answerGroups(w, r, q)
}

func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	q, err := queryFromSearch(s.groups, body)
	if err != nil {
		return err
	}
	return s.answerGroups(w, r, q)
}

// answerGroups is answerUsers for groups.
func (s *Server) answerGroups(w http.ResponseWriter, r *http.Request, q query) error {
	col := newCollector(q)
	if err := s.matchGroups(r, q.filter, q.wants(s.groups, "members"), col); err != nil {
		return err
	}
	return s.writeList(w, s.groups, col, q)
}

// matchGroups hands the representations of the groups f matches to col:
// displayName, id and externalId equalities come from the index.
func (s *Server) matchGroups(r *http.Request, f filter.Expr, withMembers bool, col *collector) error {
	ctx := r.Context()
	consider := func(g *authority.Group) error {
		res, err := s.groupJSON(r, g, withMembers || filterNeedsMembers(f))
		if err != nil {
			return err
		}
		if f == nil || filter.Match(s.groups, f, res) {
			return col.add(res)
		}
		return nil
	}
	if f != nil {
		for _, c := range filter.Equalities(f) {
			v, ok := c.Value.(string)
			if !ok || !c.Path.IsCore(s.groups) || c.Path.Sub != nil {
				continue
			}
			var gs []*authority.Group
			var indexed bool
			var err error
			switch strings.ToLower(c.Path.Attr.Name) {
			case "id":
				g, e := s.auth.GetGroup(ctx, v)
				gs, indexed, err = found(g, e)
			case "displayname":
				g, e := s.auth.LookupGroup(ctx, authority.ByDisplayName, v)
				gs, indexed, err = found(g, e)
			case "externalid":
				g, e := s.auth.LookupGroup(ctx, authority.ByExternalID, v)
				gs, indexed, err = found(g, e)
			}
			if err != nil {
				return err
			}
			if indexed {
				for _, g := range gs {
					if err := consider(g); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	after := ""
	for {
		p, err := s.auth.ListGroups(ctx, authority.ListOptions{After: after, Limit: scanPage})
		if err != nil {
			return err
		}
		for _, g := range p.Items {
			if err := consider(g); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		after = p.Next
	}
}

// filterNeedsMembers reports whether a filter reads the members attribute.
func filterNeedsMembers(f filter.Expr) bool {
	return f != nil && strings.Contains(strings.ToLower(f.String()), "members")
}
