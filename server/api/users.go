package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
)

// UserJSON is a user as the admin API shows it. The password is never
// shown, only whether one is set.
type UserJSON struct {
	ID                 string               `json:"id"`
	UserName           string               `json:"userName"`
	GivenName          string               `json:"givenName,omitempty"`
	FamilyName         string               `json:"familyName,omitempty"`
	MiddleName         string               `json:"middleName,omitempty"`
	FormattedName      string               `json:"formattedName,omitempty"`
	DisplayName        string               `json:"displayName,omitempty"`
	Email              string               `json:"email,omitempty"`
	Emails             []authority.Email    `json:"emails,omitempty"`
	PhoneNumbers       []authority.Phone    `json:"phoneNumbers,omitempty"`
	Title              string               `json:"title,omitempty"`
	Enterprise         authority.Enterprise `json:"enterprise"`
	ExternalID         string               `json:"externalId,omitempty"`
	State              authority.State      `json:"state"`
	Roles              []string             `json:"roles,omitempty"`
	UIDNumber          int64                `json:"uidNumber"`
	GIDNumber          int64                `json:"gidNumber"`
	HomeDirectory      string               `json:"homeDirectory,omitempty"`
	LoginShell         string               `json:"loginShell,omitempty"`
	HasPassword        bool                 `json:"hasPassword"`
	PasswordChangedAt  *time.Time           `json:"passwordChangedAt,omitempty"`
	MustChangePassword bool                 `json:"mustChangePassword,omitempty"`
	Created            time.Time            `json:"created"`
	Modified           time.Time            `json:"modified"`
	Version            int64                `json:"version"`
}

func userJSON(u *authority.User) UserJSON {
	j := UserJSON{
		ID: u.ID, UserName: u.UserName,
		GivenName: u.Name.GivenName, FamilyName: u.Name.FamilyName, MiddleName: u.Name.MiddleName, FormattedName: u.Name.Formatted,
		DisplayName: u.DisplayName, Email: u.PrimaryEmail(), Emails: u.Emails, PhoneNumbers: u.PhoneNumbers,
		Title: u.Title, Enterprise: u.Enterprise, ExternalID: u.ExternalID, State: u.State, Roles: u.Roles,
		UIDNumber: u.UIDNumber, GIDNumber: u.GIDNumber, HomeDirectory: u.HomeDirectory, LoginShell: u.LoginShell,
		Created: u.Created, Modified: u.Modified, Version: u.Version,
	}
	if u.Password != nil {
		j.HasPassword = true
		t := u.Password.ChangedAt
		j.PasswordChangedAt = &t
		j.MustChangePassword = u.Password.MustChange
	}
	return j
}

// UserInput is the body of create and update. In an update, absent
// fields are left as they are.
type UserInput struct {
	UserName      *string               `json:"userName"`
	GivenName     *string               `json:"givenName"`
	FamilyName    *string               `json:"familyName"`
	MiddleName    *string               `json:"middleName"`
	FormattedName *string               `json:"formattedName"`
	DisplayName   *string               `json:"displayName"`
	Email         *string               `json:"email"`
	Emails        *[]authority.Email    `json:"emails"`
	PhoneNumbers  *[]authority.Phone    `json:"phoneNumbers"`
	Title         *string               `json:"title"`
	Enterprise    *authority.Enterprise `json:"enterprise"`
	ExternalID    *string               `json:"externalId"`
	State         *string               `json:"state"`
	Roles         *[]string             `json:"roles"`
	UIDNumber     *int64                `json:"uidNumber"`
	GIDNumber     *int64                `json:"gidNumber"`
	HomeDirectory *string               `json:"homeDirectory"`
	LoginShell    *string               `json:"loginShell"`
	// Password is accepted on create (and import) only.
	Password *string `json:"password"`
	// PasswordHash carries an existing hash from another directory
	// ({SSHA}, {CRYPT}, bcrypt, argon2id), on create and import only.
	PasswordHash *string `json:"passwordHash"`
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// apply copies the given fields onto u.
func (in *UserInput) apply(u *authority.User) error {
	set(&u.UserName, in.UserName)
	set(&u.Name.GivenName, in.GivenName)
	set(&u.Name.FamilyName, in.FamilyName)
	set(&u.Name.MiddleName, in.MiddleName)
	set(&u.Name.Formatted, in.FormattedName)
	set(&u.DisplayName, in.DisplayName)
	set(&u.Emails, in.Emails)
	if in.Email != nil {
		if in.Emails != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "email", Message: "give either email (the primary address) or emails, not both"}
		}
		setPrimaryEmail(u, *in.Email)
	}
	set(&u.PhoneNumbers, in.PhoneNumbers)
	set(&u.Title, in.Title)
	set(&u.Enterprise, in.Enterprise)
	set(&u.ExternalID, in.ExternalID)
	if in.State != nil {
		u.State = authority.State(*in.State)
	}
	set(&u.Roles, in.Roles)
	set(&u.UIDNumber, in.UIDNumber)
	set(&u.GIDNumber, in.GIDNumber)
	set(&u.HomeDirectory, in.HomeDirectory)
	set(&u.LoginShell, in.LoginShell)
	if in.PasswordHash != nil && *in.PasswordHash != "" {
		u.Password = &authority.Password{Hash: *in.PasswordHash}
	}
	return nil
}

// setPrimaryEmail replaces the primary address, keeping the others; an
// empty value removes it.
func setPrimaryEmail(u *authority.User, v string) {
	v = strings.TrimSpace(v)
	var rest []authority.Email
	for _, e := range u.Emails {
		if !e.Primary && !strings.EqualFold(e.Value, v) {
			rest = append(rest, e)
		}
	}
	if v == "" {
		u.Emails = rest
		return
	}
	u.Emails = append([]authority.Email{{Value: v, Type: "work", Primary: true}}, rest...)
}

func (x *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var in UserInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	u := &authority.User{}
	if err := in.apply(u); err != nil {
		return err
	}
	pw := ""
	set(&pw, in.Password)
	created, err := x.auth.CreateUser(r.Context(), u, pw)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/users/"+created.ID)
	setETag(w, created.Version)
	writeJSON(w, http.StatusCreated, userJSON(created))
	return nil
}

func (x *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := x.auth.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	setETag(w, u.Version)
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

// listUsers pages through users, or answers an exact lookup when one of
// userName, email or externalId is given (a list of zero or one).
func (x *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for _, l := range []struct {
		param string
		by    authority.LookupField
	}{{"userName", authority.ByUserName}, {"email", authority.ByEmail}, {"externalId", authority.ByExternalID}} {
		if !q.Has(l.param) {
			continue
		}
		out := page[UserJSON]{Items: []UserJSON{}}
		u, err := x.auth.LookupUser(r.Context(), l.by, q.Get(l.param))
		switch {
		case err == nil:
			out.Items, out.Total = []UserJSON{userJSON(u)}, 1
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
	p, err := x.auth.ListUsers(r.Context(), opts)
	if err != nil {
		return err
	}
	out := page[UserJSON]{Items: make([]UserJSON, 0, len(p.Items)), Next: p.Next, Total: p.Total}
	for _, u := range p.Items {
		out.Items = append(out.Items, userJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (x *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	var in UserInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Password != nil || in.PasswordHash != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "password", Message: "set passwords with POST /api/v1/users/{id}/password"}
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	u, err := x.auth.UpdateUser(r.Context(), r.PathValue("id"), version, in.apply)
	if err != nil {
		return err
	}
	setETag(w, u.Version)
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func (x *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := x.auth.DeleteUser(r.Context(), r.PathValue("id"), version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) setPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password   *string `json:"password"`
		MustChange bool    `json:"mustChange"`
	}
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Password == nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "password", Message: "password is required"}
	}
	if err := x.auth.SetPassword(r.Context(), r.PathValue("id"), *in.Password, in.MustChange); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) suspendUser(w http.ResponseWriter, r *http.Request) error {
	u, err := x.auth.Suspend(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func (x *API) activateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := x.auth.Activate(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func (x *API) userGroups(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := x.auth.GetUser(ctx, id); err != nil {
		return err
	}
	ids, err := x.auth.GroupsOf(ctx, id)
	if err != nil {
		return err
	}
	out := page[GroupJSON]{Items: []GroupJSON{}}
	for _, gid := range ids {
		g, err := x.auth.GetGroup(ctx, gid)
		if err != nil {
			continue // deleted meanwhile
		}
		out.Items = append(out.Items, groupJSON(g, -1))
	}
	out.Total = len(out.Items)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (x *API) userBindings(w http.ResponseWriter, r *http.Request) error {
	bs, err := x.auth.Bindings(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := page[BindingJSON]{Items: []BindingJSON{}, Total: len(bs)}
	for _, b := range bs {
		out.Items = append(out.Items, bindingJSON(b))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// maxImport bounds one import request; the CLI sends files in chunks.
const maxImport = 1000

// ImportResult is one user's outcome in an import.
type ImportResult struct {
	Index int     `json:"index"`
	ID    string  `json:"id,omitempty"`
	Error *Error  `json:"error,omitempty"`
	User  *string `json:"userName,omitempty"`
}

func (x *API) importUsers(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Users []UserInput `json:"users"`
	}
	if err := decode(w, r, maxImportBody, &in); err != nil {
		return err
	}
	if len(in.Users) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "users", Message: "users must list at least one user"}
	}
	if len(in.Users) > maxImport {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "users", Message: fmt.Sprintf("at most %d users per request; send the rest in further requests", maxImport)}
	}
	users := make([]*authority.User, len(in.Users))
	pws := make([]string, len(in.Users))
	results := make([]ImportResult, len(in.Users))
	var valid []int
	for i := range in.Users {
		results[i] = ImportResult{Index: i, User: in.Users[i].UserName}
		u := &authority.User{}
		if err := in.Users[i].apply(u); err != nil {
			results[i].Error = x.mapError(err)
			continue
		}
		users[i] = u
		set(&pws[i], in.Users[i].Password)
		valid = append(valid, i)
	}
	batch := make([]*authority.User, len(valid))
	bpws := make([]string, len(valid))
	for j, i := range valid {
		batch[j], bpws[j] = users[i], pws[i]
	}
	created, errs := x.auth.CreateUsers(r.Context(), batch, bpws)
	ok := 0
	for j, i := range valid {
		if errs[j] != nil {
			results[i].Error = x.mapError(errs[j])
			continue
		}
		results[i].ID = created[j].ID
		ok++
	}
	writeJSON(w, http.StatusOK, map[string]any{"created": ok, "failed": len(in.Users) - ok, "results": results})
	return nil
}

// bindUser binds a user to a directory by name. (Directories themselves
// are configured with the connector framework; until then any name is
// accepted and nothing delivers to it.)
func (x *API) bindUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Directory string `json:"directory"`
		Mode      string `json:"mode"`
	}
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if in.Mode != "" && in.Mode != "push" && in.Mode != "report" {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "mode", Message: "mode is push or report"}
	}
	if _, err := x.auth.GetUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	if _, err := x.auth.GetDirectory(r.Context(), in.Directory); err != nil {
		if errors.Is(err, authority.ErrNotFound) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "directory",
				Message: fmt.Sprintf("no directory named %q (headwater directory list; add one with headwater directory add)", in.Directory)}
		}
		return err
	}
	b, err := x.auth.Bind(r.Context(), r.PathValue("id"), in.Directory, in.Mode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"directory": b.Directory, "mode": b.Mode, "created": b.Created})
	return nil
}

// changeStatus reports where the user's latest change stands per bound
// directory (the portal's status panel, for administrators).
func (x *API) changeStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := x.auth.ChangeStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": st, "total": len(st)})
	return nil
}
