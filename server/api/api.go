// Package api serves the admin JSON API under /api/v1/: everything the
// headwater CLI does, for administrators and automation.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/connectors/local"
)

// API is the admin API handler.
type API struct {
	auth   *authority.Authority
	log    *slog.Logger
	mux    *http.ServeMux
	saml   func(ctx context.Context) (SAML, error)
	public *url.URL
	conns  Connectors

	agentCA  func(ctx context.Context) (*local.CA, error)
	agentURL func() string
}

// New returns the admin API. Mount it at /api/v1/.
func New(a *authority.Authority, log *slog.Logger) *API {
	x := &API{auth: a, log: log, mux: http.NewServeMux()}
	x.routes()
	return x
}

func (x *API) routes() {
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		x.mux.Handle(pattern, x.handle(fn))
	}
	h("POST /api/v1/users", x.createUser)
	h("GET /api/v1/users", x.listUsers)
	h("POST /api/v1/users/import", x.importUsers)
	h("GET /api/v1/users/{id}", x.getUser)
	h("PATCH /api/v1/users/{id}", x.updateUser)
	h("DELETE /api/v1/users/{id}", x.deleteUser)
	h("POST /api/v1/users/{id}/password", x.setPassword)
	h("POST /api/v1/users/{id}/suspend", x.suspendUser)
	h("POST /api/v1/users/{id}/activate", x.activateUser)
	h("GET /api/v1/users/{id}/groups", x.userGroups)
	h("GET /api/v1/users/{id}/bindings", x.userBindings)
	h("POST /api/v1/users/{id}/bindings", x.bindUser)
	h("GET /api/v1/users/{id}/status", x.changeStatus)

	h("POST /api/v1/groups", x.createGroup)
	h("GET /api/v1/groups", x.listGroups)
	h("GET /api/v1/groups/{id}", x.getGroup)
	h("PATCH /api/v1/groups/{id}", x.updateGroup)
	h("DELETE /api/v1/groups/{id}", x.deleteGroup)
	h("GET /api/v1/groups/{id}/members", x.listMembers)
	h("POST /api/v1/groups/{id}/members", x.addMembers)
	h("DELETE /api/v1/groups/{id}/members/{userId}", x.removeMember)

	h("POST /api/v1/service-accounts", x.createServiceAccount)
	h("GET /api/v1/service-accounts", x.listServiceAccounts)
	h("GET /api/v1/service-accounts/{id}", x.getServiceAccount)
	h("DELETE /api/v1/service-accounts/{id}", x.deleteServiceAccount)
	h("POST /api/v1/service-accounts/{id}/password", x.setServiceAccountPassword)

	h("POST /api/v1/tokens", x.createToken)
	h("GET /api/v1/tokens", x.listTokens)
	h("DELETE /api/v1/tokens/{id}", x.revokeToken)

	h("GET /api/v1/audit", x.listAudit)

	h("POST /api/v1/users/{id}/activation", x.activationLink)
	h("POST /api/v1/saml/service-providers", x.putSP)
	h("GET /api/v1/saml/service-providers", x.listSPs)
	h("DELETE /api/v1/saml/service-providers", x.deleteSP)
	h("POST /api/v1/saml/keys/next", x.prepareKey)
	h("POST /api/v1/saml/keys/promote", x.promoteKey)

	h("POST /api/v1/directories", x.putDirectory)
	h("GET /api/v1/directories", x.listDirectories)
	h("GET /api/v1/directories/{name}", x.getDirectory)
	h("DELETE /api/v1/directories/{name}", x.deleteDirectory)
	h("POST /api/v1/directories/{name}/test", x.testDirectory)
	h("GET /api/v1/directories/{name}/plan", x.planDirectory)
	h("POST /api/v1/directories/{name}/import", x.importDirectory)
	h("GET /api/v1/directories/{name}/bindings", x.directoryBindings)
	h("GET /api/v1/directories/{name}/outbox", x.directoryOutbox)
	h("POST /api/v1/directories/{name}/outbox/retry", x.retryOutbox)
	h("POST /api/v1/directories/{name}/outbox/dismiss", x.dismissOutbox)
	h("DELETE /api/v1/users/{id}/bindings/{directory}", x.unbindUser)
	h("POST /api/v1/bindings", x.bindings)
	h("DELETE /api/v1/bindings", x.bindings)
	h("POST /api/v1/directories/{name}/enrolment", x.enrolment)
	h("POST /api/v1/directories/{name}/revoke", x.revokeMachine)
	h("GET /api/v1/agents", x.listMachines)
	x.mux.Handle("/api/v1/", x.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path)}
	}))
}

// ServeHTTP authenticates the caller (a bearer token with the admin
// scope) and dispatches.
func (x *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secret, ok := authority.ParseBearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="headwater"`)
		writeError(w, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "send an API token as 'Authorization: Bearer <token>' (headwater token create, or HEADWATER_ADMIN_TOKEN)"})
		return
	}
	tok, err := x.auth.VerifyToken(r.Context(), secret)
	if err != nil {
		if errors.Is(err, authority.ErrInvalidCredentials) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="headwater", error="invalid_token"`)
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "the token is unknown, revoked or expired"})
			return
		}
		writeError(w, x.mapError(err))
		return
	}
	if !tok.HasScope(authority.ScopeAdmin) {
		writeError(w, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "this token lacks the admin scope the admin API requires"})
		return
	}
	ctx := authority.WithActor(r.Context(), authority.Actor{Name: authority.TokenActor(tok), Source: ClientIP(r)})
	x.mux.ServeHTTP(w, r.WithContext(ctx))
}

// ClientIP is the address of the peer (proxies' headers are not trusted).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (x *API) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			e := x.mapError(err)
			if e.Status >= 500 {
				x.log.Error("admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, e)
		}
	})
}

// Error is the admin API's error body: {"error": {...}}.
type Error struct {
	Status     int                  `json:"-"`
	Code       string               `json:"code"`
	Message    string               `json:"message"`
	Field      string               `json:"field,omitempty"`
	Violations []authorityViolation `json:"violations,omitempty"`
}

type authorityViolation struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, args...)}
}

// mapError turns authority errors into HTTP answers.
func (x *API) mapError(err error) *Error {
	var (
		e   *Error
		ie  *authority.InvalidError
		pe  *authority.PolicyError
		ce  *authority.ConflictError
		nf  *authority.NotFoundError
		pre *authority.PreconditionError
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &pe):
		out := &Error{Status: http.StatusBadRequest, Code: "password_policy", Field: "password", Message: pe.Error()}
		for _, v := range pe.Violations {
			out.Violations = append(out.Violations, authorityViolation{v.Rule, v.Message})
		}
		return out
	case errors.As(err, &ie):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: ie.Field, Message: ie.Error()}
	case errors.As(err, &ce):
		return &Error{Status: http.StatusConflict, Code: "conflict", Field: ce.Field, Message: ce.Error()}
	case errors.As(err, &nf):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: nf.Error()}
	case errors.As(err, &pre):
		return &Error{Status: http.StatusPreconditionFailed, Code: "precondition_failed", Message: pre.Error()}
	case errors.Is(err, authority.ErrNotReady):
		return &Error{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: "the server is still loading its index; retry shortly"}
	case errors.Is(err, authority.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &Error{Status: 499, Code: "canceled", Message: "request canceled"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the server log has details"}
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxBody bounds request bodies; imports get more.
const (
	maxBody       = 1 << 20
	maxImportBody = 32 << 20
)

// decode reads a JSON body strictly: unknown fields and trailing data
// are errors that name what was wrong.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	// The Content-Type is not checked: curl -d sends form encoding by
	// default, and the body either decodes as JSON or gets a clear error.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &mbe):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("the body exceeds %d bytes", limit)}
		case errors.Is(err, io.EOF):
			return badRequest("the request needs a JSON body")
		case errors.As(err, &ute):
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: ute.Field, Message: fmt.Sprintf("%s must be a %s, not a JSON %s", ute.Field, jsonKind(ute.Type.Kind().String()), ute.Value)}
		case errors.As(err, &se):
			return badRequest("malformed JSON at byte %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: f, Message: fmt.Sprintf("unknown field %q", f)}
		}
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "list"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

// listParams reads ?after=&limit=.
func listParams(r *http.Request) (authority.ListOptions, error) {
	var o authority.ListOptions
	o.After = r.URL.Query().Get("after")
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return o, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "limit", Message: "limit must be a positive whole number"}
		}
		o.Limit = n
	}
	return o, nil
}

// ifMatch reads an If-Match header holding a version ("123" or W/"123").
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n <= 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "If-Match", Message: "If-Match must be a version as returned in ETag"}
	}
	return n, nil
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, version))
}

// page is the shape of every list answer.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
	Total int    `json:"total"`
}
