package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
)

// contractSettings accepts directory settings in the shapes CONTRACT.md
// gives and turns them into the kinds' own: for ad, `bindPassword` moves
// from the settings to the sealed secrets; for m365, a single tenant given
// flat (`tenantId`, `clientId`, `clientSecret` or `certificateFile`,
// `authorityURL`, `graphURL`, `caFile`) becomes the tenants list, with the
// credential as the tenant's secret. Credentials never stay in settings.
func contractSettings(kind string, settings json.RawMessage, secrets map[string]string) (json.RawMessage, map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(settings, &m); err != nil || m == nil {
		return settings, secrets, nil // the kind's Validate words the error
	}
	str := func(k string) string { v, _ := m[k].(string); delete(m, k); return v }
	addSecret := func(k, v string) {
		if v == "" {
			return
		}
		if secrets == nil {
			secrets = map[string]string{}
		}
		secrets[k] = v
	}
	switch kind {
	case "ad":
		if _, ok := m["bindPassword"]; !ok {
			return settings, secrets, nil
		}
		addSecret("bindPassword", str("bindPassword"))
	case "m365":
		if _, ok := m["tenantId"]; !ok {
			return settings, secrets, nil
		}
		tenant := str("tenantId")
		t := map[string]any{"tenantId": tenant, "clientId": str("clientId")}
		if v := str("authorityURL"); v != "" {
			t["authorityHost"] = v
		}
		if v := str("graphURL"); v != "" {
			t["graphURL"] = v
		}
		addSecret(tenant+".clientSecret", str("clientSecret"))
		if f := str("certificateFile"); f != "" {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, fmt.Errorf("certificateFile: %w", err)
			}
			addSecret(tenant+".certificate", string(pem))
		}
		m["tenants"] = []any{t}
	default:
		return settings, secrets, nil
	}
	out, err := json.Marshal(m)
	return out, secrets, err
}

// BindingInput is CONTRACT.md's binding request: a user, or a group whose
// members the directory binds.
type BindingInput struct {
	UserID    string `json:"userId"`
	GroupID   string `json:"groupId"`
	Directory string `json:"directory"`
	Mode      string `json:"mode"`
}

// bindings serves POST (bind) and DELETE (unbind) /api/v1/bindings.
func (x *API) bindings(w http.ResponseWriter, r *http.Request) error {
	var in BindingInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	if (in.UserID == "") == (in.GroupID == "") {
		return badRequest("give userId or groupId (one of them)")
	}
	d, err := x.auth.GetDirectory(r.Context(), in.Directory)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "directory",
			Message: fmt.Sprintf("no directory named %q (headwater directory list)", in.Directory)}
	}
	ctx := r.Context()
	if in.UserID != "" {
		if r.Method == http.MethodDelete {
			if err := x.auth.Unbind(ctx, in.UserID, d.Name); err != nil {
				return err
			}
			w.WriteHeader(http.StatusAccepted)
			return nil
		}
		if in.Mode != "" && in.Mode != "push" && in.Mode != "report" {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "mode", Message: "mode is push or report"}
		}
		if _, err := x.auth.GetUser(ctx, in.UserID); err != nil {
			return err
		}
		b, err := x.auth.Bind(ctx, in.UserID, d.Name, in.Mode)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, bindingJSON(*b))
		return nil
	}
	// A group: the directory binds its members (and unbinds leavers).
	if _, err := x.auth.GetGroup(ctx, in.GroupID); err != nil {
		return err
	}
	has := slices.Contains(d.Groups, in.GroupID)
	switch {
	case r.Method == http.MethodDelete && has:
		d.Groups = slices.DeleteFunc(d.Groups, func(g string) bool { return g == in.GroupID })
	case r.Method != http.MethodDelete && !has:
		d.Groups = append(d.Groups, in.GroupID)
	}
	if _, err := x.auth.PutDirectory(ctx, d, nil); err != nil {
		return err
	}
	if x.conns != nil {
		x.conns.Rescan(ctx)
	}
	status := http.StatusCreated
	if r.Method == http.MethodDelete {
		status = http.StatusAccepted
	}
	writeJSON(w, status, map[string]any{"groupId": in.GroupID, "directory": d.Name, "groups": d.Groups})
	return nil
}
