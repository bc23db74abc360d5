package graphemu

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// deltaState is what a delta or skip token stands for. Tokens are kept server-side, so an
// unknown or expired token is detected the way Graph detects it.
type deltaState struct {
	tenant string
	epoch  int
	issued time.Time
	sel    []string
	// since is the change sequence the round reports changes after; initial rounds report
	// every live user instead.
	since   uint64
	initial bool
	// upto is the change sequence the round covers: changes after it wait for the next round.
	upto  uint64
	after string // last id returned in this round
	// deltaLink: the token ends a round (a $deltatoken) rather than continuing one.
	deltaLink bool
}

const defaultDeltaTokenLifetime = 7 * 24 * time.Hour

func (e *Emulator) usersDelta(w http.ResponseWriter, r *http.Request, rc *reqCtx, seg string) *apiError {
	q := r.URL.Query()
	if ae := checkQueryOptions(q, "$select", "$deltatoken", "$skiptoken", "$top", "$filter"); ae != nil {
		return ae
	}
	if _, ok := queryValue(q, "$filter"); ok {
		return errNotEmulated("$filter on users/delta")
	}
	skipTok, hasSkip := queryValue(q, "$skiptoken")
	deltaTok, hasDelta := queryValue(q, "$deltatoken")

	e.mu.Lock()
	defer e.mu.Unlock()
	t := rc.tenant
	var st deltaState
	switch {
	case hasSkip || (hasDelta && deltaTok != "" && !strings.EqualFold(deltaTok, "latest")):
		tok := skipTok
		if !hasSkip {
			tok = deltaTok
		}
		prev, ok := e.deltaStates[tok]
		if !ok || prev.tenant != t.id || prev.deltaLink == hasSkip || !e.now().Before(prev.issued.Add(e.deltaTokenLifetime())) {
			return newError(http.StatusBadRequest, "syncStateNotFound",
				"The sync state generation is not found. The delta token is expired and data must be synchronized again.")
		}
		if prev.epoch != t.deltaEpoch {
			return e.resyncRequired(prev)
		}
		st = *prev
		if prev.deltaLink {
			// A deltaLink starts the next round: changes after the previous round, up to now.
			st = deltaState{tenant: t.id, epoch: t.deltaEpoch, sel: prev.sel, since: prev.upto, upto: t.seq}
		}
	case hasDelta && strings.EqualFold(deltaTok, "latest"):
		// "Sync from now": no data, just a deltaLink for changes from here on.
		rawSel, _ := queryValue(q, "$select")
		sel, ae := parseSelect(rawSel)
		if ae != nil {
			return ae
		}
		end := deltaState{tenant: t.id, epoch: t.deltaEpoch, sel: sel, upto: t.seq, deltaLink: true}
		writeJSON(w, rc, http.StatusOK, map[string]any{
			"@odata.context":   e.contextURL("users", nil),
			"@odata.deltaLink": e.deltaURL(seg, e.storeDelta(end)),
			"value":            []any{},
		})
		return nil
	default:
		rawSel, _ := queryValue(q, "$select")
		sel, ae := parseSelect(rawSel)
		if ae != nil {
			return ae
		}
		st = deltaState{tenant: t.id, epoch: t.deltaEpoch, sel: sel, initial: true, upto: t.seq}
	}

	page, more := e.deltaPage(t, &st)
	resp := map[string]any{
		"@odata.context": e.contextURL("users", nil),
		"value":          page,
	}
	if more {
		next := st
		resp["@odata.nextLink"] = e.deltaLinkURL(seg, "$skiptoken", e.storeDelta(next))
	} else {
		end := deltaState{tenant: t.id, epoch: t.deltaEpoch, sel: st.sel, upto: st.upto, deltaLink: true}
		resp["@odata.deltaLink"] = e.deltaURL(seg, e.storeDelta(end))
	}
	writeJSON(w, rc, http.StatusOK, resp)
	return nil
}

func (e *Emulator) deltaTokenLifetime() time.Duration {
	if e.cfg.DeltaTokenLifetime > 0 {
		return e.cfg.DeltaTokenLifetime
	}
	return defaultDeltaTokenLifetime
}

// resyncRequired is the documented synchronization reset: 410 Gone with a Location that
// starts a new initial round. Caller holds e.mu.
func (e *Emulator) resyncRequired(prev *deltaState) *apiError {
	q := url.Values{}
	if len(prev.sel) > 0 {
		q.Set("$select", strings.Join(prev.sel, ","))
	}
	loc := e.baseURL + "/v1.0/users/delta?"
	if enc := encodeQuery(q); enc != "" {
		loc += enc + "&"
	}
	loc += "$deltatoken="
	ae := newError(http.StatusGone, "resyncRequired", "The delta token is no longer valid, and the app must reset the sync state.")
	ae.header = http.Header{"Location": []string{loc}}
	return ae
}

// deltaPage returns the next page of a round and advances st past it. Caller holds e.mu.
func (e *Emulator) deltaPage(t *tenant, st *deltaState) ([]map[string]any, bool) {
	size := e.cfg.DeltaPageSize
	if size <= 0 {
		size = defaultPageSize
	}
	var candidates []*user
	if st.initial {
		for _, id := range t.order {
			if u := t.users[id]; u.createdSeq <= st.upto {
				candidates = append(candidates, u)
			}
		}
	} else {
		for _, id := range t.order {
			if u := t.users[id]; changedIn(u, st.sel, st.since, st.upto) {
				candidates = append(candidates, u)
			}
		}
		for _, u := range t.tombstones {
			if u.deletedSeq > st.since && u.deletedSeq <= st.upto && u.createdSeq <= st.since {
				candidates = append(candidates, u)
			}
		}
		slices.SortFunc(candidates, func(a, b *user) int { return strings.Compare(a.id(), b.id()) })
	}
	page := []map[string]any{}
	for _, u := range candidates {
		if u.id() <= st.after {
			continue
		}
		if len(page) == size {
			return page, true
		}
		page = append(page, renderDelta(u, st.sel))
		st.after = u.id()
	}
	return page, false
}

// changedIn reports whether a live user was created, or had a tracked property changed, in
// (since, upto]. With $select only the selected properties are tracked, as documented.
func changedIn(u *user, sel []string, since, upto uint64) bool {
	in := func(s uint64) bool { return s > since && s <= upto }
	if in(u.createdSeq) {
		return true
	}
	if sel == nil {
		for _, s := range u.propSeq {
			if in(s) {
				return true
			}
		}
		return false
	}
	for _, name := range sel {
		if in(u.propSeq[name]) {
			return true
		}
	}
	return false
}

func renderDelta(u *user, sel []string) map[string]any {
	if u.deletedSeq != 0 {
		// Deleted users go to deletedItems and can be restored: reason "changed".
		return map[string]any{"id": u.id(), "@removed": map[string]any{"reason": "changed"}}
	}
	m := u.render(sel)
	m["id"] = u.id()
	return m
}

// storeDelta registers a state and returns its token. Caller holds e.mu.
func (e *Emulator) storeDelta(st deltaState) string {
	st.issued = e.now()
	tok := randomToken(24)
	e.deltaStates[tok] = &st
	return tok
}

func (e *Emulator) deltaURL(seg, token string) string {
	return e.deltaLinkURL(seg, "$deltatoken", token)
}

// deltaLinkURL spells the function segment the way the request did, so a client that sent
// delta() keeps seeing delta() in its links.
func (e *Emulator) deltaLinkURL(seg, name, token string) string {
	return e.baseURL + "/v1.0/users/" + seg + "?" + name + "=" + url.QueryEscape(token)
}
