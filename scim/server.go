package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// Limits advertised in ServiceProviderConfig and enforced.
const (
	MaxBodyBytes   = 1 << 20
	MaxResults     = 1000
	DefaultCount   = 100
	BulkMaxOps     = 100
	BulkMaxPayload = 1 << 20
	contentType    = "application/scim+json"
)

// Server is the SCIM HTTP handler, mounted at /scim/v2/.
type Server struct {
	auth      *authority.Authority
	log       *slog.Logger
	users     *schema.ResourceType
	groups    *schema.ResourceType
	publicURL string
	mux       *http.ServeMux
}

// New returns the SCIM server. publicURL is the externally visible base
// (e.g. https://id.example.com); resource locations are publicURL +
// /scim/v2/... When empty, the request's Host is used.
func New(a *authority.Authority, log *slog.Logger, publicURL string) *Server {
	s := &Server{
		auth:      a,
		log:       log,
		users:     schema.NewUserType(),
		groups:    schema.NewGroupType(),
		publicURL: strings.TrimRight(publicURL, "/"),
		mux:       http.NewServeMux(),
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
		s.mux.Handle(pattern, s.handle(fn))
	}
	h("GET /scim/v2/ServiceProviderConfig", s.serviceProviderConfig)
	h("GET /scim/v2/Schemas", s.listSchemas)
	h("GET /scim/v2/Schemas/{id}", s.getSchema)
	h("GET /scim/v2/ResourceTypes", s.listResourceTypes)
	h("GET /scim/v2/ResourceTypes/{id}", s.getResourceType)
	s.resourceRoutes(h)
	h("POST /scim/v2/Bulk", s.bulk)
	h("POST /scim/v2/.search", s.searchAll)
	s.mux.Handle("/scim/v2/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return scimerr.New(http.StatusNotFound, "", "no SCIM endpoint %s %s", r.Method, r.URL.Path)
	}))
}

// ServeHTTP authenticates (a bearer token with the scim or admin scope) and
// dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := authority.ParseBearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="headwater-scim"`)
		writeError(w, scimerr.New(http.StatusUnauthorized, "", "send a SCIM token as 'Authorization: Bearer <token>' (headwater token create --scope scim)"))
		return
	}
	t, err := s.auth.VerifyToken(r.Context(), tok)
	if err != nil {
		if errors.Is(err, authority.ErrInvalidCredentials) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="headwater-scim", error="invalid_token"`)
			writeError(w, scimerr.New(http.StatusUnauthorized, "", "the token is unknown, revoked or expired"))
			return
		}
		writeError(w, s.mapError(err))
		return
	}
	if !t.HasScope(authority.ScopeSCIM) && !t.HasScope(authority.ScopeAdmin) {
		writeError(w, scimerr.New(http.StatusForbidden, "", "this token lacks the scim scope"))
		return
	}
	ctx := authority.WithActor(r.Context(), authority.Actor{Name: authority.TokenActor(t), Source: clientIP(r)})
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			e := s.mapError(err)
			if e.Status >= 500 {
				s.log.Error("SCIM request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, e)
		}
	})
}

// mapError turns authority errors into SCIM errors.
func (s *Server) mapError(err error) *scimerr.Error {
	var (
		se  *scimerr.Error
		ie  *authority.InvalidError
		pe  *authority.PolicyError
		ce  *authority.ConflictError
		nf  *authority.NotFoundError
		pre *authority.PreconditionError
	)
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &pe):
		return scimerr.BadRequest(scimerr.InvalidValue, "password: %s", pe.Error())
	case errors.As(err, &ie):
		return scimerr.BadRequest(scimerr.InvalidValue, "%s", ie.Error())
	case errors.As(err, &ce):
		return scimerr.New(http.StatusConflict, scimerr.Uniqueness, "%s", ce.Error())
	case errors.As(err, &nf):
		return scimerr.New(http.StatusNotFound, "", "%s", nf.Error())
	case errors.As(err, &pre):
		return scimerr.New(http.StatusPreconditionFailed, "", "%s", pre.Error())
	case errors.Is(err, authority.ErrNotReady):
		return scimerr.New(http.StatusServiceUnavailable, "", "the server is still loading its index; retry shortly")
	case errors.Is(err, authority.ErrUnavailable):
		return scimerr.New(http.StatusServiceUnavailable, "", "%s", err.Error())
	case errors.Is(err, context.Canceled):
		return scimerr.New(499, "", "request canceled")
	}
	return scimerr.New(http.StatusInternalServerError, "", "internal error; the server log has details")
}

func writeError(w http.ResponseWriter, e *scimerr.Error) {
	writeJSON(w, e.Status, errorBody(e))
}

func errorBody(e *scimerr.Error) map[string]any {
	body := map[string]any{
		"schemas": []string{schema.ErrorURN},
		"status":  strconv.Itoa(e.Status),
		"detail":  e.Detail,
	}
	if e.ScimType != "" {
		body["scimType"] = e.ScimType
	}
	return body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// readJSON reads a SCIM request body: application/scim+json or
// application/json (clients send both), at most limit bytes, one JSON
// object, numbers kept exact.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != contentType && mt != "application/json") {
			return nil, scimerr.New(http.StatusUnsupportedMediaType, "", "send the body as %s (or application/json), not %q", contentType, ct)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &mbe):
			return nil, scimerr.New(http.StatusRequestEntityTooLarge, "", "the body exceeds %d bytes", limit)
		case errors.Is(err, io.EOF):
			return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "the request needs a JSON body")
		case errors.As(err, &se):
			return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "malformed JSON at byte %d: %v", se.Offset, err)
		}
		return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "the body must be a JSON object: %v", err)
	}
	if dec.More() {
		return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "the body holds more than one JSON value")
	}
	if v == nil {
		return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "the body must be a JSON object, not null")
	}
	return v, nil
}

// base is the URL resource locations start with.
func (s *Server) base(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL + "/scim/v2"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/scim/v2", scheme, r.Host)
}
