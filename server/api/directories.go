package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/connectors/local"
)

// Connectors is what the API needs from the connector framework.
type Connectors interface {
	Test(ctx context.Context, d *authority.Directory) error
	Plan(ctx context.Context, name string, fn func(connectors.PlanItem) error) error
	Import(ctx context.Context, name string, opts connectors.ImportOptions) (*connectors.ImportResult, error)
	Rescan(ctx context.Context) error
}

// SetConnectors connects the directory endpoints to the workers.
func (x *API) SetConnectors(c Connectors) { x.conns = c }

// DirectoryInput creates or replaces a directory.
type DirectoryInput struct {
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Settings       json.RawMessage   `json:"settings"`
	Secrets        map[string]string `json:"secrets"`
	Mode           string            `json:"mode"`
	Groups         []string          `json:"groups"`
	AllUsers       bool              `json:"allUsers"`
	Login          string            `json:"login"`
	DeleteInTarget bool              `json:"deleteInTarget"`
	SyncEvery      string            `json:"syncEvery"`
	ImportEvery    string            `json:"importEvery"`
}

// DirectoryJSON shows a directory; credentials never leave the server.
type DirectoryJSON struct {
	Name           string          `json:"name"`
	Kind           string          `json:"kind"`
	Settings       json.RawMessage `json:"settings,omitempty"`
	HasSecrets     bool            `json:"hasSecrets"`
	Mode           string          `json:"mode"`
	Groups         []string        `json:"groups,omitempty"`
	AllUsers       bool            `json:"allUsers,omitempty"`
	Login          string          `json:"login,omitempty"`
	DeleteInTarget bool            `json:"deleteInTarget,omitempty"`
	SyncEvery      string          `json:"syncEvery"`
	ImportEvery    string          `json:"importEvery,omitempty"`
	Created        time.Time       `json:"created"`
	Modified       time.Time       `json:"modified"`
	// Counts, in show only.
	Bindings map[string]int `json:"bindings,omitempty"`
	Queued   *int           `json:"queued,omitempty"`
	Dead     *int           `json:"deadLetters,omitempty"`
	// Health is "ok", or says what is failing: bindings in error and dead
	// letters (test reaches the target itself).
	Health string `json:"health,omitempty"`
}

func directoryJSON(d *authority.Directory) DirectoryJSON {
	return DirectoryJSON{Name: d.Name, Kind: d.Kind, Settings: d.Settings, HasSecrets: d.Secrets != "", Mode: d.Mode,
		Groups: d.Groups, AllUsers: d.AllUsers, Login: d.Login, DeleteInTarget: d.DeleteInTarget, SyncEvery: d.SyncPeriod().String(),
		ImportEvery: d.ImportEvery, Created: d.Created, Modified: d.Modified}
}

func (x *API) putDirectory(w http.ResponseWriter, r *http.Request) error {
	var in DirectoryInput
	if err := decode(w, r, maxBody, &in); err != nil {
		return err
	}
	k, err := connectors.Lookup(in.Kind)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "kind", Message: err.Error()}
	}
	if len(in.Settings) == 0 {
		in.Settings = json.RawMessage("{}")
	}
	if in.Settings, in.Secrets, err = contractSettings(in.Kind, in.Settings, in.Secrets); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_settings", Field: "settings", Message: err.Error()}
	}
	if in.Kind == local.KindName && in.Login == "" {
		in.Login = "userName" // local accounts are named like the user, not by email
	}
	existing, gerr := x.auth.GetDirectory(r.Context(), in.Name)
	secretsForCheck := in.Secrets
	if secretsForCheck == nil && gerr == nil {
		// Validating new settings against the stored credentials.
		if s, err := x.auth.DirectorySecrets(existing); err == nil {
			secretsForCheck = s
		}
	}
	if k.Validate != nil {
		if err := k.Validate(in.Settings, secretsForCheck); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_settings", Field: "settings", Message: err.Error()}
		}
	}
	var groups []string
	for _, g := range in.Groups {
		grp, err := x.auth.GetGroup(r.Context(), g)
		if err != nil {
			grp, err = x.auth.LookupGroup(r.Context(), authority.ByDisplayName, g)
		}
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "groups", Message: "no group named " + g}
		}
		groups = append(groups, grp.ID)
	}
	d, err := x.auth.PutDirectory(r.Context(), &authority.Directory{Name: in.Name, Kind: in.Kind, Settings: in.Settings, Mode: in.Mode,
		Groups: groups, AllUsers: in.AllUsers, Login: in.Login, DeleteInTarget: in.DeleteInTarget, SyncEvery: in.SyncEvery, ImportEvery: in.ImportEvery}, in.Secrets)
	if err != nil {
		return err
	}
	if x.conns != nil {
		x.conns.Rescan(r.Context())
	}
	status := http.StatusCreated
	if gerr == nil {
		status = http.StatusOK
	}
	writeJSON(w, status, directoryJSON(d))
	return nil
}

func (x *API) listDirectories(w http.ResponseWriter, r *http.Request) error {
	ds, err := x.auth.ListDirectories(r.Context())
	if err != nil {
		return err
	}
	out := make([]DirectoryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, directoryJSON(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "total": len(out)})
	return nil
}

func (x *API) getDirectory(w http.ResponseWriter, r *http.Request) error {
	d, err := x.auth.GetDirectory(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	j := directoryJSON(d)
	bs, err := x.auth.BindingsOf(r.Context(), d.Name)
	if err != nil {
		return err
	}
	j.Bindings = map[string]int{}
	for _, b := range bs {
		st := b.Status
		if st == "" {
			st = "pending"
		}
		j.Bindings[st]++
	}
	es, err := x.auth.Outbox(r.Context(), d.Name, store.MaxPageSize)
	if err != nil {
		return err
	}
	q, dead := 0, 0
	for _, e := range es {
		if e.Dead {
			dead++
		} else {
			q++
		}
	}
	j.Queued, j.Dead = &q, &dead
	j.Health = "ok"
	if n := j.Bindings["error"]; n > 0 || dead > 0 {
		j.Health = fmt.Sprintf("degraded: %d bindings in error, %d dead letters", n, dead)
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (x *API) deleteDirectory(w http.ResponseWriter, r *http.Request) error {
	if err := x.auth.DeleteDirectory(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	if x.conns != nil {
		x.conns.Rescan(r.Context())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) needConns() error {
	if x.conns == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the connector framework is not running on this server"}
	}
	return nil
}

func (x *API) testDirectory(w http.ResponseWriter, r *http.Request) error {
	if err := x.needConns(); err != nil {
		return err
	}
	d, err := x.auth.GetDirectory(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := x.conns.Test(ctx, d); err != nil {
		out := map[string]any{"ok": false, "error": err.Error(), "reason": connectors.KindOf(err).String()}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	return nil
}

func (x *API) planDirectory(w http.ResponseWriter, r *http.Request) error {
	if err := x.needConns(); err != nil {
		return err
	}
	items := []connectors.PlanItem{}
	counts := map[string]int{}
	err := x.conns.Plan(r.Context(), r.PathValue("name"), func(it connectors.PlanItem) error {
		counts[it.Action]++
		if it.Action != "none" {
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return mapConnErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "counts": counts})
	return nil
}

func mapConnErr(err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return &Error{Status: http.StatusBadGateway, Code: "target_" + ce.Kind.String(), Message: err.Error()}
	}
	return err
}

// importDirectory answers the import's result as JSON; with
// `Accept: application/x-ndjson` it streams progress instead:
// {"progress":n} lines, then {"result":{...}} or {"error":{...}}.
func (x *API) importDirectory(w http.ResponseWriter, r *http.Request) error {
	if err := x.needConns(); err != nil {
		return err
	}
	var in struct {
		DryRun       bool `json:"dryRun"`
		CreateStaged bool `json:"createStaged"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, maxBody, &in); err != nil {
			return err
		}
	}
	if _, err := x.auth.GetDirectory(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		// One JSON answer (CONTRACT.md): matched, unmatched, created.
		res, err := x.conns.Import(r.Context(), r.PathValue("name"), connectors.ImportOptions{DryRun: in.DryRun, CreateStaged: in.CreateStaged})
		if err != nil {
			return mapConnErr(err)
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	fl, _ := w.(http.Flusher)
	res, err := x.conns.Import(r.Context(), r.PathValue("name"), connectors.ImportOptions{DryRun: in.DryRun, CreateStaged: in.CreateStaged,
		Progress: func(n int) {
			enc.Encode(map[string]int{"progress": n})
			if fl != nil {
				fl.Flush()
			}
		}})
	if err != nil {
		e := x.mapError(mapConnErr(err))
		if e.Status >= 500 {
			x.log.Error("import failed", "directory", r.PathValue("name"), "err", err)
		}
		if werr := enc.Encode(map[string]any{"error": e}); werr != nil {
			x.log.Warn("writing the import's error", "err", werr)
		}
		return nil
	}
	if werr := enc.Encode(map[string]any{"result": res}); werr != nil {
		x.log.Warn("writing the import's result", "err", werr)
	}
	return nil
}

// BindingJSON is a binding with its status.
type BindingJSON struct {
	UserID        string    `json:"userId"`
	UserName      string    `json:"userName,omitempty"`
	Directory     string    `json:"directory"`
	Mode          string    `json:"mode,omitempty"`
	Source        string    `json:"source,omitempty"`
	ExternalID    string    `json:"externalId,omitempty"`
	Status        string    `json:"status"`
	Detail        string    `json:"detail,omitempty"`
	LastError     string    `json:"lastError,omitempty"` // the target's words when status is error
	Mismatch      []string  `json:"mismatches,omitempty"`
	NeedsPassword bool      `json:"needsPassword,omitempty"`
	Unbinding     bool      `json:"unbinding,omitempty"`
	LastSync      time.Time `json:"lastSyncedAt,omitzero"`
	Created       time.Time `json:"created"`
}

func bindingJSON(b authority.Binding) BindingJSON {
	st := b.Status
	if st == "" {
		st = "pending"
	}
	j := BindingJSON{UserID: b.UserID, Directory: b.Directory, Mode: b.Mode, Source: b.Source, ExternalID: b.ExternalID,
		Status: st, Detail: b.Detail, Mismatch: b.Mismatch, NeedsPassword: b.NeedsPassword, Unbinding: b.Unbound,
		LastSync: b.LastSync, Created: b.Created}
	if st == "error" {
		j.LastError = b.Detail
	}
	return j
}

func (x *API) directoryBindings(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := x.auth.GetDirectory(r.Context(), name); err != nil {
		return err
	}
	bs, err := x.auth.BindingsOf(r.Context(), name)
	if err != nil {
		return err
	}
	out := make([]BindingJSON, 0, len(bs))
	for _, b := range bs {
		j := bindingJSON(b)
		if u, err := x.auth.GetUser(r.Context(), b.UserID); err == nil {
			j.UserName = u.UserName
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "total": len(out)})
	return nil
}

// OutboxJSON is an outbox entry without its sealed payload.
type OutboxJSON struct {
	UserID      string    `json:"userId"`
	Kind        string    `json:"kind"`
	Created     time.Time `json:"created"`
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	Dead        bool      `json:"dead,omitempty"`
}

func (x *API) directoryOutbox(w http.ResponseWriter, r *http.Request) error {
	es, err := x.auth.Outbox(r.Context(), r.PathValue("name"), store.MaxPageSize)
	if err != nil {
		return err
	}
	deadOnly := r.URL.Query().Get("dead") != ""
	out := []OutboxJSON{}
	for _, e := range es {
		if deadOnly && !e.Dead {
			continue
		}
		out = append(out, OutboxJSON{UserID: e.UserID, Kind: e.Kind, Created: e.Created, Attempts: e.Attempts, LastError: e.LastError, NextAttempt: e.NextAttempt, Dead: e.Dead})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "total": len(out)})
	return nil
}

// retryOutbox revives dead letters (all of the directory's, or one
// user's); dismissOutbox drops them.
func (x *API) retryOutbox(w http.ResponseWriter, r *http.Request) error {
	return x.settleDead(w, r, false)
}
func (x *API) dismissOutbox(w http.ResponseWriter, r *http.Request) error {
	return x.settleDead(w, r, true)
}

func (x *API) settleDead(w http.ResponseWriter, r *http.Request, dismiss bool) error {
	es, err := x.auth.Outbox(r.Context(), r.PathValue("name"), store.MaxPageSize)
	if err != nil {
		return err
	}
	user := r.URL.Query().Get("userId")
	n := 0
	for _, e := range es {
		if !e.Dead || (user != "" && e.UserID != user) {
			continue
		}
		if dismiss {
			err = x.auth.Delivered(r.Context(), e)
		} else {
			e.Dead, e.Attempts, e.NextAttempt, e.LastError = false, 0, time.Time{}, ""
			err = x.auth.Retry(r.Context(), e)
		}
		if err != nil && !errors.Is(err, authority.ErrPrecondition) && !strings.Contains(err.Error(), "not found") {
			return err
		}
		n++
	}
	key := "retried"
	if dismiss {
		key = "dismissed"
	}
	writeJSON(w, http.StatusOK, map[string]int{key: n})
	return nil
}

func (x *API) unbindUser(w http.ResponseWriter, r *http.Request) error {
	if err := x.auth.Unbind(r.Context(), r.PathValue("id"), r.PathValue("directory")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// SetAgents connects the enrolment and machine endpoints: ca returns the
// agent CA, agentURL the agent listener's address (empty when off).
func (x *API) SetAgents(ca func(ctx context.Context) (*local.CA, error), agentURL func() string) {
	x.agentCA, x.agentURL = ca, agentURL
}

func (x *API) enrolment(w http.ResponseWriter, r *http.Request) error {
	if x.agentCA == nil || x.agentURL == nil || x.agentURL() == "" {
		return &Error{Status: http.StatusConflict, Code: "agents_off", Message: "the agent listener is off: set agent.addr (HEADWATER_AGENT_ADDR)"}
	}
	ca, err := x.agentCA(r.Context())
	if err != nil {
		return err
	}
	ttl := 24 * time.Hour
	tok, err := local.NewEnrolmentToken(r.Context(), x.auth, ca, r.PathValue("name"), ttl)
	if err != nil {
		if errors.Is(err, authority.ErrNotFound) {
			return err
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "server": x.agentURL(), "expires": time.Now().UTC().Add(ttl),
		"command": "headwater agent enroll --server " + x.agentURL() + " --token " + tok})
	return nil
}

func (x *API) revokeMachine(w http.ResponseWriter, r *http.Request) error {
	d, err := x.auth.GetDirectory(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if d.Kind != local.KindName {
		return badRequest("%s is not a machine (kind %s)", d.Name, d.Kind)
	}
	if err := local.Revoke(r.Context(), x.auth, d.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) listMachines(w http.ResponseWriter, r *http.Request) error {
	ms, err := local.Machines(r.Context(), x.auth)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []local.Machine{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ms, "total": len(ms)})
	return nil
}
