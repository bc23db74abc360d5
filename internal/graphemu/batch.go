package graphemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// maxBatchRequests is Graph's documented limit on the requests in one JSON batch.
const maxBatchRequests = 20

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

func errBatch(msg string) *apiError {
	return newError(http.StatusBadRequest, "BadRequest", msg)
}

// handleBatch runs a JSON batch: each step goes through dispatch, so it meets the same faults
// and handlers as a request of its own. Steps run in order, a step after the steps it
// depends on; a step whose dependency failed gets 424 Failed Dependency.
func (e *Emulator) handleBatch(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	body, ae := readBody(r)
	if ae != nil {
		e.writeError(w, rc, ae)
		return
	}
	var env struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		e.writeError(w, rc, errBatch("Invalid batch payload format."))
		return
	}
	order, ae := planBatch(env.Requests)
	if ae != nil {
		e.writeError(w, rc, ae)
		return
	}
	status := map[string]int{}
	responses := make([]batchResponse, 0, len(order))
	for _, i := range order {
		br := env.Requests[i]
		key := strings.ToLower(br.ID)
		failedDep := false
		for _, d := range br.DependsOn {
			if status[strings.ToLower(d)] >= 400 {
				failedDep = true
			}
		}
		var resp batchResponse
		if failedDep {
			resp = e.batchFailure(rc, br.ID, newError(http.StatusFailedDependency, "BadRequest",
				"The request could not be processed because a request it depends on failed."))
		} else {
			resp = e.runBatchStep(r, rc, br)
		}
		status[key] = resp.Status
		responses = append(responses, resp)
	}
	writeJSON(w, rc, http.StatusOK, map[string]any{"responses": responses})
}

// planBatch validates a batch and orders its steps so that each runs after its dependencies.
func planBatch(reqs []batchRequest) ([]int, *apiError) {
	if len(reqs) == 0 {
		return nil, errBatch("Invalid batch payload format. The batch must contain at least one request.")
	}
	if len(reqs) > maxBatchRequests {
		return nil, errBatch(fmt.Sprintf("Invalid batch payload format. The number of requests (%d) exceeds the maximum of %d.", len(reqs), maxBatchRequests))
	}
	index := map[string]int{}
	for i, br := range reqs {
		if br.ID == "" || br.Method == "" || br.URL == "" {
			return nil, errBatch("Invalid batch payload format. Every request needs an id, a method and a url.")
		}
		key := strings.ToLower(br.ID)
		if _, dup := index[key]; dup {
			return nil, errBatch(fmt.Sprintf("Invalid batch payload format. Request id '%s' is used more than once.", br.ID))
		}
		index[key] = i
	}
	for _, br := range reqs {
		for _, d := range br.DependsOn {
			if _, ok := index[strings.ToLower(d)]; !ok {
				return nil, errBatch(fmt.Sprintf("Invalid batch payload format. Request '%s' depends on unknown request '%s'.", br.ID, d))
			}
		}
	}
	// Depth-first topological order; a cycle is a malformed batch.
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(reqs))
	order := make([]int, 0, len(reqs))
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case visiting:
			return false
		case done:
			return true
		}
		state[i] = visiting
		for _, d := range reqs[i].DependsOn {
			if !visit(index[strings.ToLower(d)]) {
				return false
			}
		}
		state[i] = done
		order = append(order, i)
		return true
	}
	for i := range reqs {
		if !visit(i) {
			return nil, errBatch("Invalid batch payload format. The dependsOn references form a cycle.")
		}
	}
	return order, nil
}

func (e *Emulator) batchFailure(rc *reqCtx, id string, ae *apiError) batchResponse {
	body, _ := json.Marshal(e.errorBody(rc, ae))
	h := map[string]string{"Content-Type": "application/json"}
	for k := range ae.header {
		h[k] = ae.header.Get(k)
	}
	return batchResponse{ID: id, Status: ae.status, Headers: h, Body: body}
}

// runBatchStep turns a step into an in-process request against the same handlers.
func (e *Emulator) runBatchStep(outer *http.Request, rc *reqCtx, br batchRequest) batchResponse {
	var body []byte
	hasBody := len(br.Body) > 0 && string(br.Body) != "null"
	if hasBody {
		if ct := headerValue(br.Headers, "Content-Type"); ct == "" {
			return e.batchFailure(rc, br.ID, errBatch("A Content-Type header is required when a request in a batch has a body."))
		}
		body = br.Body
		// A body that is not JSON travels base64-encoded in a JSON string.
		var s string
		if json.Unmarshal(br.Body, &s) == nil && !strings.Contains(strings.ToLower(headerValue(br.Headers, "Content-Type")), "json") {
			dec, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return e.batchFailure(rc, br.ID, errBatch("The request body is not valid base64."))
			}
			body = dec
		}
	}
	rel := br.URL
	if !strings.HasPrefix(rel, "/") {
		rel = "/" + rel
	}
	req, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(br.Method), e.baseURL+"/v1.0"+rel, bytes.NewReader(body))
	if err != nil {
		return e.batchFailure(rc, br.ID, errBatch("The url of request '"+br.ID+"' is not valid."))
	}
	for k, v := range br.Headers {
		req.Header.Set(k, v)
	}
	sub := &reqCtx{requestID: newObjectID(), clientRequestID: rc.clientRequestID, tenant: rc.tenant, inBatch: true}
	rec := httptest.NewRecorder()
	e.dispatch(rec, req, sub)
	e.record(req, sub, rec.Code)

	resp := batchResponse{ID: br.ID, Status: rec.Code, Headers: map[string]string{}}
	for k := range rec.Header() {
		resp.Headers[k] = rec.Header().Get(k)
	}
	if b := bytes.TrimSpace(rec.Body.Bytes()); len(b) > 0 {
		resp.Body = b
	}
	return resp
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
