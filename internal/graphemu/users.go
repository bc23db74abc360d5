package graphemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// listQuery is the state of a paged GET /users, carried in $skiptoken so that each page
// continues exactly where the previous one ended even if users are added in between.
type listQuery struct {
	Tenant string   `json:"t"`
	Filter string   `json:"f,omitempty"`
	Select []string `json:"s,omitempty"`
	Top    int      `json:"n"`
	After  string   `json:"a,omitempty"`
	Count  bool     `json:"c,omitempty"`
}

// checkQueryOptions refuses OData system query options that the endpoint does not take.
func checkQueryOptions(q url.Values, allowed ...string) *apiError {
	for k := range q {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		name := strings.ToLower(k)
		ok := false
		for _, a := range allowed {
			if name == a {
				ok = true
			}
		}
		if ok {
			continue
		}
		switch name {
		case "$orderby", "$expand", "$search", "$format":
			return errNotEmulated(k)
		}
		return newError(http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("The query specified in the URI is not valid. Query option '%s' is not allowed.", k))
	}
	return nil
}

// queryValue reads a system query option without regard to the case of its name.
func queryValue(q url.Values, name string) (string, bool) {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func (e *Emulator) listUsers(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	q := r.URL.Query()
	if ae := checkQueryOptions(q, "$top", "$select", "$filter", "$count", "$skiptoken"); ae != nil {
		return ae
	}
	var lq listQuery
	if tok, ok := queryValue(q, "$skiptoken"); ok {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || json.Unmarshal(raw, &lq) != nil || lq.Tenant != rc.tenant.id || lq.Top < 1 || lq.Top > maxPageSize {
			return newError(http.StatusBadRequest, "Directory_ExpiredPageToken",
				"The specified page token value has expired and can no longer be included in your request.")
		}
	} else {
		lq = listQuery{Tenant: rc.tenant.id, Top: defaultPageSize}
		if v, ok := queryValue(q, "$top"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > maxPageSize {
				return newError(http.StatusBadRequest, "Request_UnsupportedQuery",
					fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, maxPageSize))
			}
			lq.Top = n
		}
		if v, ok := queryValue(q, "$select"); ok {
			sel, ae := parseSelect(v)
			if ae != nil {
				return ae
			}
			lq.Select = sel
		}
		if v, ok := queryValue(q, "$filter"); ok {
			lq.Filter = v
		}
		if v, ok := queryValue(q, "$count"); ok {
			switch strings.ToLower(v) {
			case "true":
				// $count on directory objects is an advanced query: Graph refuses it unless
				// the caller accepts eventual consistency.
				if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
					return newError(http.StatusBadRequest, "Request_BadRequest", "$count is not currently supported.")
				}
				lq.Count = true
			case "false":
			default:
				return newError(http.StatusBadRequest, "BadRequest",
					fmt.Sprintf("The query specified in the URI is not valid. '%s' is not a valid count option.", v))
			}
		}
	}
	var match filterExpr
	if lq.Filter != "" {
		f, err := parseFilter(lq.Filter)
		if err != nil {
			return err.apiError()
		}
		match = f
	}

	e.mu.Lock()
	t := rc.tenant
	value := []map[string]any{}
	var last string
	more := false
	total := 0
	for _, id := range t.order {
		u := t.users[id]
		if match != nil && !match.match(u) {
			continue
		}
		total++
		if id <= lq.After {
			continue
		}
		if len(value) == lq.Top {
			more = true
			if !lq.Count {
				break
			}
			continue
		}
		value = append(value, u.render(lq.Select))
		last = id
	}
	e.mu.Unlock()

	resp := map[string]any{
		"@odata.context": e.contextURL("users", lq.Select),
		"value":          value,
	}
	if lq.Count {
		resp["@odata.count"] = total
	}
	if more {
		nq := lq
		nq.After = last
		raw, _ := json.Marshal(nq)
		resp["@odata.nextLink"] = e.nextLink(r, "$skiptoken", base64.RawURLEncoding.EncodeToString(raw))
	}
	writeJSON(w, rc, http.StatusOK, resp)
	return nil
}

// nextLink is the absolute URL of the next page: the request's own path and query with the
// state token replaced, as Graph builds it.
func (e *Emulator) nextLink(r *http.Request, tokenName, token string) string {
	q := r.URL.Query()
	for k := range q {
		if strings.EqualFold(k, "$skiptoken") || strings.EqualFold(k, "$deltatoken") {
			delete(q, k)
		}
	}
	enc := encodeQuery(q)
	if enc != "" {
		enc += "&"
	}
	return e.baseURL + r.URL.EscapedPath() + "?" + enc + tokenName + "=" + url.QueryEscape(token)
}

// encodeQuery keeps "$" unescaped in option names, as Graph's links have them.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

func (e *Emulator) contextURL(entitySet string, sel []string) string {
	s := e.baseURL + "/v1.0/$metadata#" + entitySet
	if len(sel) > 0 {
		s += "(" + strings.Join(sel, ",") + ")"
	}
	return s
}

// visible applies the replication delay: a user created through the API within the delay is
// not yet found by id or userPrincipalName. Caller holds e.mu.
func (e *Emulator) visible(u *user) bool {
	return u.createdAt.IsZero() || !e.now().Before(u.createdAt.Add(e.ecDelay))
}

// findUser looks a user up for an item request. Caller holds e.mu.
func (e *Emulator) findUser(t *tenant, key string) (*user, *apiError) {
	u := t.lookup(key)
	if u == nil || !e.visible(u) {
		return nil, errNotFound(key)
	}
	return u, nil
}

func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request, rc *reqCtx, key string) *apiError {
	q := r.URL.Query()
	if ae := checkQueryOptions(q, "$select"); ae != nil {
		return ae
	}
	rawSel, _ := queryValue(q, "$select")
	sel, ae := parseSelect(rawSel)
	if ae != nil {
		return ae
	}
	e.mu.Lock()
	u, ae := e.findUser(rc.tenant, key)
	var body map[string]any
	if ae == nil {
		body = u.render(sel)
	}
	e.mu.Unlock()
	if ae != nil {
		return ae
	}
	body["@odata.context"] = e.contextURL("users", sel) + "/$entity"
	writeJSON(w, rc, http.StatusOK, body)
	return nil
}

func (e *Emulator) createUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	body, ae := readBody(r)
	if ae != nil {
		return ae
	}
	in, ae := decodeUserInput(body)
	if ae != nil {
		return ae
	}
	e.mu.Lock()
	u, ae := e.addUser(rc.tenant, in, e.now(), true)
	var out map[string]any
	if ae == nil {
		out = u.render(nil)
	}
	e.mu.Unlock()
	if ae != nil {
		return ae
	}
	out["@odata.context"] = e.contextURL("users", nil) + "/$entity"
	w.Header().Set("Location", e.baseURL+"/v1.0/users/"+u.id())
	writeJSON(w, rc, http.StatusCreated, out)
	return nil
}

// addUser validates and creates a user, checking what POST /users checks. checkPassword is
// false only for test seeding. Caller holds e.mu.
func (e *Emulator) addUser(t *tenant, in *userInput, created time.Time, checkPw bool) (*user, *apiError) {
	for _, name := range []string{"accountEnabled", "displayName", "mailNickname", "userPrincipalName"} {
		v, ok := in.props[name]
		if !ok || v == nil || v == "" {
			return nil, errInvalidProperty(name)
		}
	}
	if !in.hasPassword || in.password == "" {
		return nil, newError(http.StatusBadRequest, "Request_BadRequest", "A password must be specified to create a new user.")
	}
	upn := in.props["userPrincipalName"].(string)
	if ae := validateUPN(t, upn); ae != nil {
		return nil, ae
	}
	if !validMailNickname(in.props["mailNickname"].(string)) {
		return nil, errInvalidProperty("mailNickname")
	}
	if checkPw {
		if ae := checkPassword(in.password); ae != nil {
			return nil, ae
		}
	}
	if t.lookup(upn) != nil {
		return nil, errUPNConflict()
	}
	if mail, _ := in.props["mail"].(string); t.mailTaken(mail, "") {
		return nil, errMailConflict()
	}
	u := &user{
		props:       map[string]any{},
		password:    in.password,
		forceChange: in.hasForce && in.force,
		createdAt:   created,
		propSeq:     map[string]uint64{},
	}
	for k, v := range in.props {
		u.props[k] = v
	}
	u.props["id"] = newObjectID()
	u.props["createdDateTime"] = e.now().UTC().Format(time.RFC3339)
	if _, ok := u.props["businessPhones"]; !ok {
		u.props["businessPhones"] = []string{}
	}
	if _, ok := u.props["userType"]; !ok {
		u.props["userType"] = "Member"
	}
	t.insert(u)
	return u, nil
}

func (e *Emulator) patchUser(w http.ResponseWriter, r *http.Request, rc *reqCtx, key string) *apiError {
	body, ae := readBody(r)
	if ae != nil {
		return ae
	}
	in, ae := decodeUserInput(body)
	if ae != nil {
		return ae
	}
	e.mu.Lock()
	ae = e.applyPatch(rc.tenant, key, in, true)
	e.mu.Unlock()
	if ae != nil {
		return ae
	}
	writeNoContent(w, rc)
	return nil
}

// applyPatch validates every change before applying any, so a rejected PATCH changes
// nothing. Caller holds e.mu.
func (e *Emulator) applyPatch(t *tenant, key string, in *userInput, checkVisible bool) *apiError {
	u := t.lookup(key)
	if u == nil || (checkVisible && !e.visible(u)) {
		return errNotFound(key)
	}
	for _, name := range []string{"displayName", "mailNickname", "userPrincipalName"} {
		if v, ok := in.props[name]; ok && (v == nil || v == "") {
			return errInvalidProperty(name)
		}
	}
	if v, ok := in.props["accountEnabled"]; ok && v == nil {
		return errInvalidProperty("accountEnabled")
	}
	if nick, ok := in.props["mailNickname"].(string); ok && !validMailNickname(nick) {
		return errInvalidProperty("mailNickname")
	}
	if upn, ok := in.props["userPrincipalName"].(string); ok {
		if ae := validateUPN(t, upn); ae != nil {
			return ae
		}
		if other := t.lookup(upn); other != nil && other != u {
			return errUPNConflict()
		}
	}
	if mail, ok := in.props["mail"].(string); ok && t.mailTaken(mail, u.id()) {
		return errMailConflict()
	}
	if in.hasPassword {
		if ae := checkPassword(in.password); ae != nil {
			return ae
		}
	}
	for k, v := range in.props {
		if k == "userPrincipalName" {
			t.renameUPN(u, v.(string))
			continue
		}
		t.set(u, k, v)
	}
	if in.hasPassword {
		u.password = in.password
		u.passwordChanges++
	}
	if in.hasForce {
		u.forceChange = in.force
	}
	return nil
}

func (e *Emulator) deleteUser(w http.ResponseWriter, r *http.Request, rc *reqCtx, key string) *apiError {
	e.mu.Lock()
	u, ae := e.findUser(rc.tenant, key)
	if ae == nil {
		rc.tenant.remove(u)
	}
	e.mu.Unlock()
	if ae != nil {
		return ae
	}
	writeNoContent(w, rc)
	return nil
}
