package m365

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/headwater/headwater/connectors"
)

// BatchOpKind says what a BatchOp does.
// BatchOp, BatchOpKind and its values are the framework's (see
// connectors.Batcher); the names stay here for callers of this package.
type (
	BatchOpKind = connectors.BatchOpKind
	BatchOp     = connectors.BatchOp
)

const (
	BatchCreate      = connectors.BatchCreate
	BatchUpdate      = connectors.BatchUpdate
	BatchSetPassword = connectors.BatchSetPassword
)

var _ connectors.Batcher = (*Conn)(nil)

// maxBatchSteps is Graph's limit of requests in one JSON batch (the SDK
// refuses a 21st step).
const maxBatchSteps = 20

// pendingOp is a BatchOp ready to go in a batch.
type pendingOp struct {
	index int
	op    *BatchOp
	info  *abs.RequestInformation
	what  string
}

// Batch runs ops through Graph's JSON $batch, at most 20 to a request,
// grouped by tenant, and returns one error per op (nil where it succeeded),
// classified as the single operations are. For each successful
// BatchCreate it sets ops[i].Created.
//
// Steps Graph throttles are sent again, in a smaller batch, after the
// longest Retry-After among them, within the same bounds as single calls;
// past those bounds they are returned as Throttled. An update that changes
// the login needs the user's current domain first and so runs on its own
// rather than in a batch.
func (c *Conn) Batch(ctx context.Context, ops []BatchOp) []error {
	errs := make([]error, len(ops))
	byTenant := map[*tenant][]*pendingOp{}
	var order []*tenant
	for i := range ops {
		op := &ops[i]
		t, p, err := c.prepare(ctx, i, op)
		if err != nil || p == nil {
			errs[i] = err
			continue
		}
		if _, seen := byTenant[t]; !seen {
			order = append(order, t)
		}
		byTenant[t] = append(byTenant[t], p)
	}
	for _, t := range order {
		pending := byTenant[t]
		for start := 0; start < len(pending); start += maxBatchSteps {
			c.sendBatch(ctx, t, pending[start:min(start+maxBatchSteps, len(pending))], ops, errs)
		}
	}
	return errs
}

// prepare validates op and builds its request; a nil pendingOp with a nil
// error means op is done already (an empty patch, or a rename run alone).
func (c *Conn) prepare(ctx context.Context, i int, op *BatchOp) (*tenant, *pendingOp, error) {
	switch op.Kind {
	case BatchCreate:
		if op.Password == "" {
			return nil, nil, connectors.Rejected("a user cannot be created in Microsoft 365 without a password", nil)
		}
		t, err := c.check(ctx, op.Desired)
		if err != nil {
			return nil, nil, err
		}
		info, err := t.users().ToPostRequestInformation(ctx, c.newUser(op.Desired, op.Password), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("m365: build create of %s: %w", op.Desired.Login, err)
		}
		return t, &pendingOp{index: i, op: op, info: info, what: "create user " + op.Desired.Login}, nil
	case BatchUpdate:
		if op.Patch.Login != nil {
			return nil, nil, c.Update(ctx, op.ID, op.Patch)
		}
		t, oid, err := c.parseID(op.ID)
		if err != nil || op.Patch.Empty() {
			return nil, nil, err
		}
		info, err := t.users().ByUserId(oid).ToPatchRequestInformation(ctx, patchBody(op.Patch), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("m365: build update of %s: %w", op.ID, err)
		}
		return t, &pendingOp{index: i, op: op, info: info, what: "update user " + oid}, nil
	case BatchSetPassword:
		t, oid, err := c.parseID(op.ID)
		if err != nil {
			return nil, nil, err
		}
		body := models.NewUser()
		body.SetPasswordProfile(passwordProfile(op.Password))
		info, err := t.users().ByUserId(oid).ToPatchRequestInformation(ctx, body, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("m365: build password change of %s: %w", op.ID, err)
		}
		return t, &pendingOp{index: i, op: op, info: info, what: "set password of user " + oid}, nil
	}
	return nil, nil, fmt.Errorf("m365: batch op %d has unknown kind %v", i, op.Kind)
}

// stepAnswer is a batch step's answer body: a user for a create, Graph's
// error otherwise.
type stepAnswer struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	AccountEnabled    *bool  `json:"accountEnabled"`
	Error             *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// sendBatch sends up to 20 ops of one tenant as one $batch, and again for
// the steps that were throttled.
func (c *Conn) sendBatch(ctx context.Context, t *tenant, todo []*pendingOp, ops []BatchOp, errs []error) {
	w := waiter{p: c.retry}
	for len(todo) > 0 {
		batch := core.NewBatchRequest(t.adapter)
		byStep := map[string]*pendingOp{}
		for _, p := range todo {
			item, err := batch.AddBatchRequestStep(*p.info)
			if err != nil {
				errs[p.index] = fmt.Errorf("m365: %s: add to batch: %w", p.what, err)
				continue
			}
			byStep[deref(item.GetId())] = p
		}
		resp, err := batch.Send(ctx, t.adapter)
		if err != nil {
			err = classify(err, t.id, fmt.Sprintf("$batch of %d requests", len(byStep)))
			if after, throttled := throttledFor(err); throttled {
				if ok, serr := w.wait(ctx, after); ok {
					continue
				} else if serr != nil {
					err = serr
				}
			}
			for _, p := range byStep {
				errs[p.index] = err
			}
			return
		}
		var again []*pendingOp
		var longest time.Duration
		for id, p := range byStep {
			err := c.stepResult(t, resp.GetResponseById(id), p, &ops[p.index])
			errs[p.index] = err
			if after, throttled := throttledFor(err); throttled {
				again = append(again, p)
				longest = max(longest, after)
			}
		}
		if len(again) == 0 {
			return
		}
		ok, serr := w.wait(ctx, longest)
		if serr != nil {
			for _, p := range again {
				errs[p.index] = serr
			}
			return
		}
		if !ok {
			return
		}
		c.log.Debug("m365: batch steps throttled, sending them again", "tenant", t.id, "steps", len(again), "retry_after", longest)
		todo = again
	}
}

// stepResult turns one step's answer into the op's error, and for a create
// into op.Created.
func (c *Conn) stepResult(t *tenant, item core.BatchItem, p *pendingOp, op *BatchOp) error {
	if item == nil || item.GetStatus() == nil {
		return connectors.Transient("Microsoft Graph's $batch answer has no response for this request", fmt.Errorf("m365: %s: missing batch response", p.what))
	}
	status := int(*item.GetStatus())
	var ans stepAnswer
	if body := item.GetBody(); body != nil {
		// The SDK hands the body over as decoded JSON values; reading it
		// back into a struct is simpler than walking them.
		if b, err := json.Marshal(map[string]any(body)); err == nil {
			_ = json.Unmarshal(b, &ans)
		}
	}
	if status >= 400 {
		ge := &graphError{status: status}
		if ans.Error != nil {
			ge.code, ge.message = ans.Error.Code, ans.Error.Message
		}
		for k, v := range item.GetHeaders() {
			switch strings.ToLower(k) {
			case "retry-after":
				ge.retryAfter = parseRetryAfter(v)
			case "request-id":
				ge.requestID = v
			}
		}
		return classifyGraph(ge, t.id, p.what)
	}
	if op.Kind == BatchCreate {
		if ans.ID == "" {
			return connectors.Transient("Microsoft Graph created the user but did not return its id", nil)
		}
		a := c.createdAccount(t, op.Desired, ans.ID, nil)
		if ans.UserPrincipalName != "" {
			a.Login = ans.UserPrincipalName
		}
		if ans.AccountEnabled != nil {
			a.Enabled = *ans.AccountEnabled
		}
		op.Created = a
	}
	return nil
}
