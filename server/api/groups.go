package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/headwater/headwater/authority"
)

// GroupJSON is a group as the admin API shows it.
type GroupJSON struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	ExternalID  string    `json:"externalId,omitempty"`
	Description string    `json:"description,omitempty"`
	GIDNumber   int64     `json:"gidNumber"`
	MemberCount *int      `json:"memberCount,omitempty"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
	Version     int64     `json:"version"`
}

// groupJSON renders a group; members < 0 leaves the count out.
func groupJSON(g *authority.Group, members int) GroupJSON {
	j := GroupJSON{ID: g.ID, DisplayName: g.DisplayName, ExternalID: g.ExternalID, Description: g.Description,
		GIDNumber: g.GIDNumber, Created: g.Created, Modified: g.Modified, Version: g.Version}
	if members >= 0 {
		j.MemberCount = &members
	}
	return j
}

type groupInput struct {
	DisplayName *string   `json:"displayName"`
	ExternalID  *string   `json:"externalId"`
	Description *string   `json:"description"`
	GIDNumber   *int64    `json:"gidNumber"`
	Members     *[]string `json:"members"`
}

func (in *groupInput) apply(g *authority.Group) error {
	set(&g.DisplayName, in.DisplayName)
	set(&g.ExternalID, in.ExternalID)
	set(&g.Description, in.Description)
	set(&g.GIDNumber, in.GIDNumber)
	return nil
}

func (x *API) memberCount(r *http.Request, id string) int {
	p, err := x.auth.Members(r.Context(), id, authority.ListOptions{Limit: 1})
	if err != nil {
		return 0
	}
	return p.Total
}

func (x *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	g := &authority.Group{}
	_ = in.apply(g)
	created, err := x.auth.CreateGroup(r.Context(), g)
	if err != nil {
		return err
	}
	if in.Members != nil && len(*in.Members) > 0 {
		if err := x.auth.AddMembers(r.Context(), created.ID, *in.Members); err != nil {
			// The group exists; say so, so the caller does not create it twice.
			e := x.mapError(err)
			e.Message = "group created (id " + created.ID + "), but adding members failed: " + e.Message
			return e
		}
	}
	w.Header().Set("Location", "/api/v1/groups/"+created.ID)
	setETag(w, created.Version)
	writeJSON(w, http.StatusCreated, groupJSON(created, x.memberCount(r, created.ID)))
	return nil
}

func (x *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := x.auth.GetGroup(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	setETag(w, g.Version)
	writeJSON(w, http.StatusOK, groupJSON(g, x.memberCount(r, g.ID)))
	return nil
}

func (x *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	if q := r.URL.Query(); q.Has("displayName") {
		out := page[GroupJSON]{Items: []GroupJSON{}}
		g, err := x.auth.LookupGroup(r.Context(), authority.ByDisplayName, q.Get("displayName"))
		switch {
		case err == nil:
			out.Items, out.Total = []GroupJSON{groupJSON(g, x.memberCount(r, g.ID))}, 1
		case !errors.Is(err, authority.ErrNotFound):
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	opts, err := listParams(r)
	if err != nil {
		return err
	}
	p, err := x.auth.ListGroups(r.Context(), opts)
	if err != nil {
		return err
	}
	out := page[GroupJSON]{Items: make([]GroupJSON, 0, len(p.Items)), Next: p.Next, Total: p.Total}
	for _, g := range p.Items {
		out.Items = append(out.Items, groupJSON(g, x.memberCount(r, g.ID)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (x *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var in groupInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Members != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "members", Message: "change members with POST/DELETE /api/v1/groups/{id}/members"}
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	g, err := x.auth.UpdateGroup(r.Context(), r.PathValue("id"), version, in.apply)
	if err != nil {
		return err
	}
	setETag(w, g.Version)
	writeJSON(w, http.StatusOK, groupJSON(g, x.memberCount(r, g.ID)))
	return nil
}

func (x *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := x.auth.DeleteGroup(r.Context(), r.PathValue("id"), version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	opts, err := listParams(r)
	if err != nil {
		return err
	}
	p, err := x.auth.Members(r.Context(), r.PathValue("id"), opts)
	if err != nil {
		return err
	}
	type member struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	}
	out := page[member]{Items: make([]member, 0, len(p.Items)), Next: p.Next, Total: p.Total}
	for _, id := range p.Items {
		m := member{ID: id}
		if u, err := x.auth.GetUser(r.Context(), id); err == nil {
			m.UserName = u.UserName
		}
		out.Items = append(out.Items, m)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (x *API) addMembers(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		UserID  string   `json:"userId"`
		UserIDs []string `json:"userIds"`
	}
	if err := decode(w, r, maxImportBody, &in); err != nil {
		return err
	}
	ids := in.UserIDs
	if in.UserID != "" {
		ids = append(ids, in.UserID)
	}
	if len(ids) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "userIds", Message: "give userId or userIds"}
	}
	if err := x.auth.AddMembers(r.Context(), r.PathValue("id"), ids); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	if err := x.auth.RemoveMembers(r.Context(), r.PathValue("id"), []string{r.PathValue("userId")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
