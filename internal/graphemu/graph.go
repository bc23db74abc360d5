package graphemu

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// reqCtx is what a Graph handler knows about the request beyond *http.Request.
type reqCtx struct {
	requestID       string
	clientRequestID string
	tenant          *tenant
	inBatch         bool
}

func newReqCtx(r *http.Request) *reqCtx {
	rc := &reqCtx{requestID: newObjectID()}
	rc.clientRequestID = r.Header.Get("client-request-id")
	if rc.clientRequestID == "" {
		rc.clientRequestID = rc.requestID
	}
	return rc
}

// maxBody is Graph's usual request size limit.
const maxBody = 4 << 20

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// serveGraph is the front door for /v1.0: latency, bearer token, then either $batch or one
// request. Every request is recorded for the test accessors.
func (e *Emulator) serveGraph(w http.ResponseWriter, r *http.Request) {
	rc := newReqCtx(r)
	sw := &statusWriter{ResponseWriter: w}
	defer func() { e.record(r, rc, sw.status) }()

	sleep(r.Context(), e.faults.delay())

	t, ae := e.authenticate(r)
	if ae != nil {
		e.writeError(sw, rc, ae)
		return
	}
	rc.tenant = t
	if r.URL.Path == "/v1.0/$batch" {
		if r.Method != http.MethodPost {
			e.writeError(sw, rc, errMethodNotAllowed())
			return
		}
		e.handleBatch(sw, r, rc)
		return
	}
	e.dispatch(sw, r, rc)
}

// dispatch runs one Graph request after authentication: fault injection, then the handler.
// $batch steps come through here too, so they see the same faults and the same handlers.
func (e *Emulator) dispatch(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	graphPath := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if f := e.faults.fire(r.Method, graphPath); f != nil {
		e.writeError(w, rc, faultError(f))
		return
	}
	if ae := e.route(w, r, rc); ae != nil {
		e.writeError(w, rc, ae)
	}
}

// route maps a path relative to /v1.0 to its handler. A handler either writes a response and
// returns nil, or returns the error to send.
func (e *Emulator) route(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	segs, ae := splitPath(r.URL.EscapedPath())
	if ae != nil {
		return ae
	}
	if len(segs) == 0 {
		return errSegment("v1.0")
	}
	switch segs[0] {
	case "users":
		switch {
		case len(segs) == 1:
			switch r.Method {
			case http.MethodGet:
				return e.listUsers(w, r, rc)
			case http.MethodPost:
				return e.createUser(w, r, rc)
			}
			return errMethodNotAllowed()
		case len(segs) == 2 && isDeltaSegment(segs[1]):
			if r.Method != http.MethodGet {
				return errMethodNotAllowed()
			}
			return e.usersDelta(w, r, rc, segs[1])
		case len(segs) == 2:
			switch r.Method {
			case http.MethodGet:
				return e.getUser(w, r, rc, segs[1])
			case http.MethodPatch:
				return e.patchUser(w, r, rc, segs[1])
			case http.MethodDelete:
				return e.deleteUser(w, r, rc, segs[1])
			}
			return errMethodNotAllowed()
		case len(segs) == 3 && segs[2] == "$ref":
			return errSegment(segs[2])
		default:
			return errNotEmulated("/users/{id}/" + strings.Join(segs[2:], "/"))
		}
	case "domains":
		if r.Method != http.MethodGet {
			return errMethodNotAllowed()
		}
		switch len(segs) {
		case 1:
			return e.listDomains(w, rc)
		case 2:
			return e.getDomain(w, rc, segs[1])
		}
		return errNotEmulated("/domains/{id}/" + strings.Join(segs[2:], "/"))
	case "$batch":
		return newError(http.StatusBadRequest, "BadRequest", "A batch request cannot contain another batch request.")
	}
	return errSegment(segs[0])
}

// isDeltaSegment accepts the delta function however it is spelled: /delta is the documented
// shortcut, the SDKs send the fully qualified microsoft.graph.delta, with or without "()".
func isDeltaSegment(s string) bool {
	s = strings.TrimSuffix(s, "()")
	return s == "delta" || s == "microsoft.graph.delta"
}

func splitPath(escaped string) ([]string, *apiError) {
	rest := strings.TrimPrefix(escaped, "/v1.0")
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return nil, nil
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, newError(http.StatusBadRequest, "BadRequest", "The request URI is not valid.")
		}
		parts[i] = u
	}
	return parts, nil
}

// readBody reads a request body, undoing Content-Encoding: gzip as Graph does (the Go SDK
// compresses request bodies by default).
func readBody(r *http.Request) ([]byte, *apiError) {
	if r.Body == nil {
		return nil, nil
	}
	var src io.Reader = io.LimitReader(r.Body, maxBody+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, newError(http.StatusBadRequest, "BadRequest", "The request body could not be decompressed: "+err.Error())
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxBody+1)
	default:
		return nil, newError(http.StatusUnsupportedMediaType, "BadRequest", "Content-Encoding '"+enc+"' is not supported.")
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "BadRequest", "The request body could not be read: "+err.Error())
	}
	if len(b) > maxBody {
		return nil, newError(http.StatusRequestEntityTooLarge, "Request_EntityTooLarge", "The request is larger than the maximum of 4 MB.")
	}
	return b, nil
}

// authenticate resolves the bearer token to its tenant, with Graph's 401 answers otherwise.
func (e *Emulator) authenticate(r *http.Request) (*tenant, *apiError) {
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, errUnauthenticated(e.baseURL, "Access token is empty.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.tokens[tok]
	if !ok {
		return nil, errUnauthenticated(e.baseURL, "CompactToken parsing failed with error code: 80049217")
	}
	if !e.now().Before(at.expires) {
		return nil, errUnauthenticated(e.baseURL, "Lifetime validation failed, the token is expired.")
	}
	t, ok := e.tenants[at.tenant]
	if !ok {
		return nil, errUnauthenticated(e.baseURL, "Access token validation failure.")
	}
	return t, nil
}

func errUnauthenticated(base, msg string) *apiError {
	ae := newError(http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
	ae.header = http.Header{"WWW-Authenticate": []string{
		`Bearer realm="", authorization_uri="` + base + `/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
	}}
	return ae
}
