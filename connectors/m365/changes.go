package m365

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/headwater/headwater/connectors"
)

// cursor is the state of the change feed across tenants: each tenant's
// deltaLink, which holds Graph's delta token. It travels as JSON in the
// opaque cursor the framework stores.
type cursor struct {
	V     int               `json:"v"`
	Links map[string]string `json:"links"` // by lowercased tenant id
}

const cursorVersion = 1

// Changes returns the users changed since cur, from Graph's users delta
// query, and the next cursor.
//
// With an empty cursor it only starts the feed: it asks each tenant for a
// deltaLink with $deltatoken=latest, which costs one request however large
// the tenant is, instead of paging through every user (the full pass lists
// users anyway). A tenant added to the settings since the cursor was made
// starts the same way. Removed users come back as Account{ID, Deleted}.
// Accounts carry the properties Graph reports for them; when Graph drops a
// delta token (410 Gone, or an expired token), the tenant is read again in
// full from the start, as Graph documents, and every user in it is
// reported.
func (c *Conn) Changes(ctx context.Context, cur string) ([]connectors.Account, string, error) {
	prev := cursor{Links: map[string]string{}}
	if cur != "" {
		if err := json.Unmarshal([]byte(cur), &prev); err != nil || prev.V != cursorVersion || prev.Links == nil {
			// A cursor that cannot be read would stop the feed for good:
			// start over instead; the periodic full pass covers the gap.
			c.log.Warn("m365: the stored change cursor is not an m365 delta cursor, starting the feed again", "err", err)
			prev, cur = cursor{Links: map[string]string{}}, ""
		}
	}
	next := cursor{V: cursorVersion, Links: map[string]string{}}
	var changed []connectors.Account
	for _, t := range c.tenants {
		key := strings.ToLower(t.id)
		link, known := prev.Links[key]
		if !known {
			l, err := c.startDelta(ctx, t)
			if err != nil {
				return nil, "", err
			}
			next.Links[key] = l
			continue
		}
		if !strings.HasPrefix(link, t.cfg.GraphURL+"/") {
			// The tenant's graphURL changed since: its old links are no use.
			c.log.Warn("m365: the stored delta link does not point at the tenant's Graph URL, starting its feed again", "tenant", t.id)
			l, err := c.startDelta(ctx, t)
			if err != nil {
				return nil, "", err
			}
			next.Links[key] = l
			continue
		}
		accts, l, err := c.followDelta(ctx, t, link)
		if err != nil {
			return nil, "", err
		}
		changed = append(changed, accts...)
		next.Links[key] = l
	}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, "", fmt.Errorf("m365: encode change cursor: %w", err)
	}
	return changed, string(b), nil
}

func (t *tenant) deltaURL(query string) string {
	return t.cfg.GraphURL + "/users/delta()?$select=" + strings.Join(userSelect, ",") + query
}

// startDelta gets a deltaLink for changes from now on.
func (c *Conn) startDelta(ctx context.Context, t *tenant) (string, error) {
	var link string
	err := c.call(ctx, t, "start users delta", func(ctx context.Context) error {
		resp, err := users.NewDeltaRequestBuilder(t.deltaURL("&$deltatoken=latest"), t.adapter).GetAsDeltaGetResponse(ctx, nil)
		if err != nil {
			return err
		}
		link = deref(resp.GetOdataDeltaLink())
		return nil
	})
	if err != nil {
		return "", err
	}
	if link == "" {
		return "", connectors.Transient(fmt.Sprintf("Microsoft Graph started no delta feed for tenant %s (no deltaLink)", t.id), nil)
	}
	return link, nil
}

// followDelta pages from a deltaLink to the next one. A token Graph no
// longer knows restarts the round from scratch once.
func (c *Conn) followDelta(ctx context.Context, t *tenant, link string) ([]connectors.Account, string, error) {
	var out []connectors.Account
	restarted := false
	for url := link; ; {
		var resp users.DeltaGetResponseable
		err := c.call(ctx, t, "users delta", func(ctx context.Context) error {
			var err error
			resp, err = users.NewDeltaRequestBuilder(url, t.adapter).GetAsDeltaGetResponse(ctx, nil)
			return err
		})
		if ge := asGraphError(err); ge != nil && !restarted && deltaTokenLost(ge) {
			c.log.Warn("m365: delta token no longer valid, reading the tenant again", "tenant", t.id, "code", ge.code)
			restarted, out, url = true, nil, t.deltaURL("")
			continue
		}
		if err != nil {
			return nil, "", err
		}
		for _, u := range resp.GetValue() {
			if a, ok := c.deltaAccount(t, u); ok {
				out = append(out, a)
			}
		}
		if n := deref(resp.GetOdataNextLink()); n != "" {
			url = n
			continue
		}
		d := deref(resp.GetOdataDeltaLink())
		if d == "" {
			return nil, "", connectors.Transient(fmt.Sprintf("Microsoft Graph ended a delta round of tenant %s without a deltaLink", t.id), nil)
		}
		return out, d, nil
	}
}

// deltaTokenLost recognises Graph's answers to a delta token it no longer
// honours: 410 Gone (resyncRequired) after maintenance, 400
// syncStateNotFound when the token has expired.
func deltaTokenLost(ge *graphError) bool {
	return ge.status == 410 || strings.EqualFold(ge.code, "syncStateNotFound") || strings.EqualFold(ge.code, "resyncRequired")
}

func (c *Conn) deltaAccount(t *tenant, u models.Userable) (connectors.Account, bool) {
	if u.GetId() == nil {
		return connectors.Account{}, false
	}
	if _, removed := u.GetAdditionalData()["@removed"]; removed {
		return connectors.Account{ID: accountID(t, *u.GetId()), Deleted: true}, true
	}
	if isGuest(u) {
		return connectors.Account{}, false
	}
	return c.toAccount(t, u), true
}
