package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/filter"
	"github.com/headwater/headwater/scim/patch"
	"github.com/headwater/headwater/scim/resource"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// resourceRoutes registers /Users and /Groups.
func (s *Server) resourceRoutes(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("GET /scim/v2/Users", s.listUsers)
	h("POST /scim/v2/Users", s.createUser)
	h("POST /scim/v2/Users/.search", s.searchUsers)
	h("GET /scim/v2/Users/{id}", s.getUser)
	h("PUT /scim/v2/Users/{id}", s.putUser)
	h("PATCH /scim/v2/Users/{id}", s.patchUser)
	h("DELETE /scim/v2/Users/{id}", s.deleteUser)

	h("GET /scim/v2/Groups", s.listGroups)
	h("POST /scim/v2/Groups", s.createGroup)
	h("POST /scim/v2/Groups/.search", s.searchGroups)
	h("GET /scim/v2/Groups/{id}", s.getGroup)
	h("PUT /scim/v2/Groups/{id}", s.putGroup)
	h("PATCH /scim/v2/Groups/{id}", s.patchGroup)
	h("DELETE /scim/v2/Groups/{id}", s.deleteGroup)
}

// etag renders a version as a weak entity tag.
func etag(version int64) string { return fmt.Sprintf(`W/"%d"`, version) }

// ifMatch reads If-Match: 0 when absent or "*".
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		// A tag we never issued cannot match the current version.
		return 0, scimerr.New(http.StatusPreconditionFailed, "", "If-Match %s is not a version of this resource", h)
	}
	return n, nil
}

// notModified answers If-None-Match with 304 when the version matches.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	h := r.Header.Get("If-None-Match")
	if h == "" {
		return false
	}
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag(version) || strings.Trim(strings.TrimPrefix(t, "W/"), `"`) == strconv.FormatInt(version, 10) {
			w.Header().Set("ETag", etag(version))
			w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

func (s *Server) userGroups(ctx context.Context, id string) []resource.GroupRef {
	ids, err := s.auth.GroupsOf(ctx, id)
	if err != nil {
		return nil
	}
	out := make([]resource.GroupRef, 0, len(ids))
	for _, gid := range ids {
		if g, err := s.auth.GetGroup(ctx, gid); err == nil {
			out = append(out, resource.GroupRef{ID: g.ID, DisplayName: g.DisplayName})
		}
	}
	return out
}

func (s *Server) userJSON(r *http.Request, u *authority.User) map[string]any {
	return resource.UserToSCIM(u, s.userGroups(r.Context(), u.ID), s.base(r))
}

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *authority.User, q query) {
	res := resource.Project(s.users, s.userJSON(r, u), q.attributes, q.excluded)
	w.Header().Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", s.base(r)+"/Users/"+u.ID)
	}
	writeJSON(w, status, res)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	u := &authority.User{}
	pw, err := resource.UserFromSCIM(body, u)
	if err != nil {
		return err
	}
	if u.State == "" {
		u.State = authority.StateActive
	}
	secret := ""
	if pw != nil {
		secret = *pw
	}
	created, err := s.auth.CreateUser(r.Context(), u, secret)
	if err != nil {
		return err
	}
	q, _ := queryFromURL(s.users, r.URL.Query())
	s.writeUser(w, r, http.StatusCreated, created, q)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	q, err := queryFromURL(s.users, r.URL.Query())
	if err != nil {
		return err
	}
	u, err := s.auth.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if notModified(w, r, u.Version) {
		return nil
	}
	s.writeUser(w, r, http.StatusOK, u, q)
	return nil
}

// replaceUser writes a full representation onto the stored user (PUT, and
// PATCH after its operations were applied), attributes and password in one
// write. version guards against changes since the representation was made.
func (s *Server) replaceUser(ctx context.Context, id string, version int64, rep map[string]any) (*authority.User, error) {
	var scratch authority.User
	pw, err := resource.UserFromSCIM(rep, &scratch)
	if err != nil {
		return nil, err
	}
	var change *authority.NewPassword
	if pw != nil {
		change = &authority.NewPassword{Cleartext: *pw}
	}
	return s.auth.ReplaceUser(ctx, id, version, func(u *authority.User) error {
		_, err := resource.UserFromSCIM(rep, u)
		return err
	}, change)
}

func (s *Server) putUser(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	u, err := s.replaceUser(r.Context(), r.PathValue("id"), version, body)
	if err != nil {
		return err
	}
	s.writeUser(w, r, http.StatusOK, u, query{})
	return nil
}

// maxPatchAttempts bounds re-applying a PATCH when another writer changed
// the user between our read and our write (without If-Match the client
// asked for "apply to whatever is current", so we retry rather than fail).
const maxPatchAttempts = 32

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
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
	for attempt := 0; ; attempt++ {
		cur, err := s.auth.GetUser(ctx, id)
		if err != nil {
			return err
		}
		if version != 0 && cur.Version != version {
			return scimerr.New(http.StatusPreconditionFailed, "", "the user is at version %s, not %s", etag(cur.Version), etag(version))
		}
		next, err := patch.Apply(s.users, s.userJSON(r, cur), ops, s.pathParser(s.users), patch.Options{Compat: true})
		if err != nil {
			return err
		}
		u, err := s.replaceUser(ctx, id, cur.Version, next)
		if errors.Is(err, authority.ErrPrecondition) && version == 0 && attempt < maxPatchAttempts {
			continue
		}
		if err != nil {
			return err
		}
		s.writeUser(w, r, http.StatusOK, u, query{})
		return nil
	}
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := s.auth.DeleteUser(r.Context(), r.PathValue("id"), version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := queryFromURL(s.users, r.URL.Query())
	if err != nil {
		return err
	}
	return s.answerUsers(w, r, q)
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSON(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	q, err := queryFromSearch(s.users, body)
	if err != nil {
		return err
	}
	return s.answerUsers(w, r, q)
}

// pathParser adapts the filter package's PATCH path grammar to the
// engine.
func (s *Server) pathParser(rt *schema.ResourceType) patch.PathParser {
	return func(path string) (patch.Target, error) {
		p, err := filter.ParsePath(rt, path)
		if err != nil {
			return patch.Target{}, err
		}
		t := patch.Target{Attr: p.Attr, SubAttr: p.SubAttr}
		if p.Filter != nil {
			f := p.Filter
			t.Filtered = true
			t.Filter = func(elem map[string]any) bool { return filter.MatchValue(rt, p.Attr, f, elem) }
			if c, ok := f.(*filter.Compare); ok && c.Op == filter.OpEq && c.Path.Sub != nil && strings.EqualFold(c.Path.Sub.Name, "type") {
				t.TypeEq, _ = c.Value.(string)
			}
		}
		return t, nil
	}
}
