package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
)

type serviceAccountJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DN          string    `json:"dn,omitempty"`
	Description string    `json:"description,omitempty"`
	Roles       []string  `json:"roles,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

func saJSON(sa *authority.ServiceAccount) serviceAccountJSON {
	return serviceAccountJSON{ID: sa.ID, Name: sa.Name, Description: sa.Description, Roles: sa.Roles, Disabled: sa.Disabled, Created: sa.Created, Modified: sa.Modified}
}

func (x *API) createServiceAccount(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string   `json:"name"`
		Password    string   `json:"password"`
		Description string   `json:"description"`
		Roles       []string `json:"roles"`
	}
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	sa, err := x.auth.CreateServiceAccount(r.Context(), in.Name, in.Password, in.Description, in.Roles)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/service-accounts/"+sa.ID)
	writeJSON(w, http.StatusCreated, saJSON(sa))
	return nil
}

func (x *API) listServiceAccounts(w http.ResponseWriter, r *http.Request) error {
	opts, err := listParams(r)
	if err != nil {
		return err
	}
	p, err := x.auth.ListServiceAccounts(r.Context(), opts)
	if err != nil {
		return err
	}
	out := page[serviceAccountJSON]{Items: make([]serviceAccountJSON, 0, len(p.Items)), Next: p.Next, Total: p.Total}
	for _, sa := range p.Items {
		out.Items = append(out.Items, saJSON(sa))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (x *API) getServiceAccount(w http.ResponseWriter, r *http.Request) error {
	sa, err := x.auth.GetServiceAccount(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, saJSON(sa))
	return nil
}

func (x *API) deleteServiceAccount(w http.ResponseWriter, r *http.Request) error {
	if err := x.auth.DeleteServiceAccount(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) setServiceAccountPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if err := x.auth.SetServiceAccountPassword(r.Context(), r.PathValue("id"), in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedBy string     `json:"createdBy,omitempty"`
	Created   time.Time  `json:"created"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Token is the secret, present only in the answer to create.
	Token string `json:"token,omitempty"`
}

func (x *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
		TTL    string   `json:"ttl"`
	}
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	var ttl time.Duration
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "ttl", Message: "ttl must be a duration such as 720h"}
		}
		ttl = d
	}
	secret, t, err := x.auth.CreateToken(r.Context(), in.Name, in.Scopes, ttl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedBy: t.CreatedBy, Created: t.Created, ExpiresAt: t.ExpiresAt, Token: secret})
	return nil
}

func (x *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := x.auth.ListTokens(r.Context())
	if err != nil {
		return err
	}
	out := page[tokenJSON]{Items: make([]tokenJSON, 0, len(ts)), Total: len(ts)}
	for _, t := range ts {
		out.Items = append(out.Items, tokenJSON{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedBy: t.CreatedBy, Created: t.Created, ExpiresAt: t.ExpiresAt})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (x *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := x.auth.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	opts, err := listParams(r)
	if err != nil {
		return err
	}
	before := r.URL.Query().Get("before")
	if before != "" && !strings.Contains(before, "-") {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "before", Message: "before must be the id of an audit event"}
	}
	evs, err := x.auth.Audit(r.Context(), before, opts.Limit)
	if err != nil {
		return err
	}
	out := page[authority.AuditEvent]{Items: evs, Total: len(evs)}
	if out.Items == nil {
		out.Items = []authority.AuditEvent{}
	}
	if limit := max(opts.Limit, 0); len(evs) > 0 && (len(evs) == limit || (limit == 0 && len(evs) == 100)) {
		out.Next = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
