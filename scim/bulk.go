package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// bulk answers POST /Bulk (RFC 7644 §3.7). Operations run in order, each
// through the same handlers as a single request, so a bulk operation means
// exactly what the request alone would. "bulkId:X" in an operation's path
// or data stands for the id created by the earlier operation with bulkId
// X. After failOnErrors errors the remaining operations are not run.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > BulkMaxPayload {
		return scimerr.New(http.StatusRequestEntityTooLarge, "", "a bulk request is at most %d bytes (maxPayloadSize)", BulkMaxPayload)
	}
	body, err := readJSON(w, r, BulkMaxPayload)
	if err != nil {
		return err
	}
	if !hasURN(body["schemas"], schema.BulkRequestURN) {
		return scimerr.BadRequest(scimerr.InvalidSyntax, "a bulk request needs \"schemas\": [%q]", schema.BulkRequestURN)
	}
	ops, ok := field(body, "Operations").([]any)
	if !ok || len(ops) == 0 {
		return scimerr.BadRequest(scimerr.InvalidSyntax, "a bulk request needs a non-empty \"Operations\" list")
	}
	if len(ops) > BulkMaxOps {
		return scimerr.New(http.StatusRequestEntityTooLarge, "", "a bulk request has at most %d operations (maxOperations); this one has %d", BulkMaxOps, len(ops))
	}
	failOn := 0
	if v := field(body, "failOnErrors"); v != nil {
		n, err := fmt.Sscan(fmt.Sprint(v), &failOn)
		if n != 1 || err != nil || failOn < 1 {
			return scimerr.BadRequest(scimerr.InvalidValue, "failOnErrors must be a positive whole number")
		}
	}
	ids := map[string]string{} // bulkId -> created id
	var results []any
	errorsSeen := 0
	for i, raw := range ops {
		if failOn > 0 && errorsSeen >= failOn {
			break
		}
		res := s.bulkOp(r, i, raw, ids)
		if st, _ := res["status"].(string); !strings.HasPrefix(st, "2") {
			errorsSeen++
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{schema.BulkRespURN}, "Operations": results})
	return nil
}

func (s *Server) bulkOp(r *http.Request, i int, raw any, ids map[string]string) map[string]any {
	fail := func(method, bulkID string, e *scimerr.Error) map[string]any {
		out := map[string]any{"method": method, "status": fmt.Sprint(e.Status), "response": errorBody(e)}
		if bulkID != "" {
			out["bulkId"] = bulkID
		}
		return out
	}
	op, ok := raw.(map[string]any)
	if !ok {
		return fail("", "", scimerr.BadRequest(scimerr.InvalidSyntax, "Operations[%d] must be an object", i))
	}
	method, _ := field(op, "method").(string)
	method = strings.ToUpper(method)
	path, _ := field(op, "path").(string)
	bulkID, _ := field(op, "bulkId").(string)
	switch method {
	case "POST", "PUT", "PATCH", "DELETE":
	default:
		return fail(method, bulkID, scimerr.BadRequest(scimerr.InvalidSyntax, "Operations[%d].method must be POST, PUT, PATCH or DELETE", i))
	}
	if method == "POST" && bulkID == "" {
		return fail(method, bulkID, scimerr.BadRequest(scimerr.InvalidSyntax, "Operations[%d]: a POST needs a bulkId", i))
	}
	if !strings.HasPrefix(path, "/Users") && !strings.HasPrefix(path, "/Groups") {
		return fail(method, bulkID, scimerr.BadRequest(scimerr.InvalidPath, "Operations[%d].path must start with /Users or /Groups", i))
	}
	path, err := substitute(path, ids)
	if err != nil {
		return fail(method, bulkID, err.(*scimerr.Error))
	}
	var payload []byte
	if data := field(op, "data"); data != nil && method != "DELETE" {
		d, err := substituteValue(data, ids)
		if err != nil {
			return fail(method, bulkID, err.(*scimerr.Error))
		}
		payload, _ = json.Marshal(d)
	}
	req := httptest.NewRequestWithContext(r.Context(), method, "/scim/v2"+path, bytes.NewReader(payload))
	req.Header.Set("Content-Type", contentType)
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	if v, _ := field(op, "version").(string); v != "" {
		req.Header.Set("If-Match", v)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	out := map[string]any{"method": method, "status": fmt.Sprint(rec.Code)}
	if bulkID != "" {
		out["bulkId"] = bulkID
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		out["location"] = loc
	}
	if tag := rec.Header().Get("ETag"); tag != "" {
		out["version"] = tag
	}
	var resp map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	if rec.Code >= 400 {
		out["response"] = resp
		return out
	}
	if method == "POST" {
		if id, ok := resp["id"].(string); ok {
			ids[bulkID] = id
		}
	}
	if _, ok := out["location"]; !ok && method != "DELETE" {
		if meta, ok := resp["meta"].(map[string]any); ok {
			out["location"] = meta["location"]
		}
	}
	return out
}

// substitute replaces "bulkId:X" in a path.
func substitute(path string, ids map[string]string) (string, error) {
	i := strings.Index(path, "bulkId:")
	if i < 0 {
		return path, nil
	}
	ref := path[i+len("bulkId:"):]
	id, ok := ids[ref]
	if !ok {
		return "", scimerr.New(http.StatusConflict, scimerr.InvalidValue, "bulkId %q is not created by an earlier operation", ref)
	}
	return path[:i] + id, nil
}

// substituteValue replaces every "bulkId:X" string in data.
func substituteValue(v any, ids map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(x, "bulkId:"); ok {
			id, found := ids[ref]
			if !found {
				return nil, scimerr.New(http.StatusConflict, scimerr.InvalidValue, "bulkId %q is not created by an earlier operation", ref)
			}
			return id, nil
		}
		return x, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := substituteValue(e, ids)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := substituteValue(e, ids)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

func field(m map[string]any, name string) any {
	v, _ := schema.Lookup(m, name)
	return v
}

func hasURN(v any, urn string) bool {
	list, _ := v.([]any)
	for _, s := range list {
		if str, _ := s.(string); strings.EqualFold(str, urn) {
			return true
		}
	}
	return false
}
