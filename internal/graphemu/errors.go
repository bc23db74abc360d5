package graphemu

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// apiError is a Graph error response: the status and the OData error body Graph sends.
type apiError struct {
	status  int
	code    string
	message string
	details []errorDetail
	header  http.Header
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Target  string `json:"target,omitempty"`
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.code + ": " + e.message }

func newError(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func errNotFound(key string) *apiError {
	return newError(http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '"+key+"' does not exist or one of its queried reference-property objects are not present.")
}

func errMethodNotAllowed() *apiError {
	return newError(http.StatusMethodNotAllowed, "Request_BadRequest",
		"Specified HTTP method is not allowed for the request target.")
}

func errSegment(seg string) *apiError {
	return newError(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+seg+"'.")
}

// errNotEmulated marks Graph features the emulator does not have, so that a connector relying
// on one fails in tests instead of silently getting a wrong answer.
func errNotEmulated(what string) *apiError {
	return newError(http.StatusNotImplemented, "NotImplemented", "graphemu does not emulate "+what+".")
}

type odataError struct {
	Error odataErrorBody `json:"error"`
}

type odataErrorBody struct {
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	Details    []errorDetail `json:"details,omitempty"`
	InnerError innerError    `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// graphDate is the format of innerError.date (UTC, no zone designator).
const graphDate = "2006-01-02T15:04:05"

func (e *Emulator) errorBody(rc *reqCtx, ae *apiError) odataError {
	return odataError{Error: odataErrorBody{
		Code:    ae.code,
		Message: ae.message,
		Details: ae.details,
		InnerError: innerError{
			Date:            e.now().UTC().Format(graphDate),
			RequestID:       rc.requestID,
			ClientRequestID: rc.clientRequestID,
		},
	}}
}

func (e *Emulator) writeError(w http.ResponseWriter, rc *reqCtx, ae *apiError) {
	h := w.Header()
	for k, vs := range ae.header {
		h[k] = vs
	}
	setRequestIDs(h, rc)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(e.errorBody(rc, ae))
}

// odataJSON is the content type Graph gives successful JSON responses.
const odataJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func writeJSON(w http.ResponseWriter, rc *reqCtx, status int, v any) {
	h := w.Header()
	setRequestIDs(h, rc)
	h.Set("Content-Type", odataJSON)
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeNoContent(w http.ResponseWriter, rc *reqCtx) {
	setRequestIDs(w.Header(), rc)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusNoContent)
}

func setRequestIDs(h http.Header, rc *reqCtx) {
	h.Set("request-id", rc.requestID)
	h.Set("client-request-id", rc.clientRequestID)
}

// retryAfterSeconds renders a delay as Retry-After does: whole seconds, rounded up.
func retryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
