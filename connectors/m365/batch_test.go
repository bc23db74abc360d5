package m365

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/internal/graphemu"
)

// TestBatchSplitsAt20: 45 creates go as three $batch requests (20, 20, 5),
// each op gets its own result, and a bad op fails alone with Graph's words.
func TestBatchSplitsAt20(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	ctx := t.Context()
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	before := emu.Requests()

	ops := make([]BatchOp, 45)
	for i := range ops {
		ops[i] = BatchOp{Kind: BatchCreate, Desired: desired("contoso.com"), Password: goodPassword}
	}
	ops[7].Password = "weak"
	errs := c.Batch(ctx, ops)
	if len(errs) != len(ops) {
		t.Fatalf("Batch returned %d errors for %d ops", len(errs), len(ops))
	}

	var envelopes, steps int
	for _, r := range emu.Requests()[len(before):] {
		switch {
		case r.Path == "/v1.0/$batch":
			envelopes++
		case r.InBatch && r.Method == "POST" && r.Path == "/v1.0/users":
			steps++
		default:
			t.Errorf("unexpected request outside the batches: %+v", r)
		}
	}
	if envelopes != 3 || steps != 45 {
		t.Errorf("%d $batch requests carrying %d creates, want 3 carrying 45", envelopes, steps)
	}

	const weak = "The specified password does not comply with password complexity requirements. Please provide a different password."
	for i, op := range ops {
		if i == 7 {
			if connectors.KindOf(errs[i]) != connectors.KindRejected || errs[i] == nil || errs[i].Error() != weak {
				t.Errorf("op 7 (weak password): %v, want rejected with Graph's words", errs[i])
			}
			if op.Created != nil {
				t.Errorf("op 7 failed but has an account: %+v", op.Created)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("op %d: %v", i, errs[i])
			continue
		}
		if op.Created == nil {
			t.Errorf("op %d succeeded without an account", i)
			continue
		}
		_, oid := splitID(t, op.Created.ID)
		u, err := emu.User(tenantA, oid)
		if err != nil || !strings.EqualFold(u.UserPrincipalName, op.Desired.Login) || !strings.EqualFold(op.Created.Login, op.Desired.Login) {
			t.Errorf("op %d created %+v, the tenant has %+v (%v)", i, op.Created, u, err)
		}
		if pw, _ := emu.PasswordOf(tenantA, oid); pw != goodPassword || u.ForceChangePasswordNextSignIn {
			t.Errorf("op %d: password %q, force change %v", i, pw, u.ForceChangePasswordNextSignIn)
		}
	}
	if us, _ := emu.Users(tenantA); len(us) != 44 {
		t.Errorf("the tenant has %d users, want 44", len(us))
	}
}

// TestBatchUpdatesAndThrottledSteps: updates and password changes in one
// batch; steps Graph throttles are sent again after their Retry-After, and
// ops that cannot be routed fail on their own.
func TestBatchUpdatesAndThrottledSteps(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA, tenantB))
	rec := &sleeps{}
	c.retry.sleep = rec.sleep
	ctx := t.Context()

	var ids []string
	for _, dom := range []string{"contoso.com", "contoso.com", "fabrikam.com"} {
		a, err := c.Create(ctx, desired(dom), goodPassword)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	off, given, empty := false, "Batched", ""
	newPW := goodPassword + "-2"
	ops := []BatchOp{
		{Kind: BatchUpdate, ID: ids[0], Patch: connectors.Patch{Enabled: &off, GivenName: &given, Email: &empty}},
		{Kind: BatchSetPassword, ID: ids[1], Password: newPW},
		{Kind: BatchUpdate, ID: ids[2], Patch: connectors.Patch{Enabled: &off}},
		{Kind: BatchCreate, Desired: desired("unknown.example"), Password: goodPassword},
		{Kind: BatchUpdate, ID: tenantA + ":00000000-0000-4000-8000-000000000000", Patch: connectors.Patch{Enabled: &off}},
		{Kind: BatchUpdate, ID: ids[1]}, // empty patch: nothing to send
	}
	before := emu.RequestCount("POST", "/v1.0/$batch")
	emu.ThrottleNext(2, 4*time.Second)
	errs := c.Batch(ctx, ops)

	for i, want := range []connectors.ErrorKind{-1, -1, -1, connectors.KindRejected, -1, -1} {
		switch {
		case i == 4:
			if !errors.Is(errs[i], connectors.ErrNotFound) {
				t.Errorf("op %d (missing user): %v, want ErrNotFound", i, errs[i])
			}
		case want < 0 && errs[i] != nil:
			t.Errorf("op %d: %v", i, errs[i])
		case want >= 0 && (errs[i] == nil || connectors.KindOf(errs[i]) != want):
			t.Errorf("op %d: %v, want %v", i, errs[i], want)
		}
	}
	if waits := rec.all(); !slices.Equal(waits, []time.Duration{4 * time.Second}) {
		t.Errorf("waited %v, want once 4s for the throttled steps", waits)
	}
	// Tenant A: one batch, then one more for its two throttled steps;
	// tenant B: one.
	if n := emu.RequestCount("POST", "/v1.0/$batch") - before; n != 3 {
		t.Errorf("%d $batch requests, want 3", n)
	}

	_, oid0 := splitID(t, ids[0])
	if u, _ := emu.User(tenantA, oid0); u.AccountEnabled || u.GivenName != "Batched" || u.Mail != "" {
		t.Errorf("user 0 after the batch: %+v", u)
	}
	_, oid1 := splitID(t, ids[1])
	if pw, _ := emu.PasswordOf(tenantA, oid1); pw != newPW {
		t.Errorf("user 1's password was not changed by the batch")
	}
	_, oid2 := splitID(t, ids[2])
	if u, _ := emu.User(tenantB, oid2); u.AccountEnabled {
		t.Errorf("user 2 (tenant B) still enabled after the batch")
	}
}

// TestBatchThrottledPastBudget: steps still throttled after the retries
// come back Throttled with Graph's Retry-After.
func TestBatchThrottledPastBudget(t *testing.T) {
	emu := startEmu(t, emuConfig())
	c := newConn(t, connConfig(emu, tenantA))
	rec := &sleeps{}
	c.retry.sleep = rec.sleep
	ctx := t.Context()
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	if err := emu.InjectFault(graphemu.Fault{Status: 429, RetryAfter: 2 * time.Second, PathPrefix: "/users"}); err != nil {
		t.Fatal(err)
	}
	ops := []BatchOp{{Kind: BatchCreate, Desired: desired("contoso.com"), Password: goodPassword}}
	errs := c.Batch(ctx, ops)
	var ce *connectors.Error
	if !errors.As(errs[0], &ce) || ce.Kind != connectors.KindThrottled || ce.RetryAfter != 2*time.Second {
		t.Errorf("a create throttled throughout: %v, want throttled for 2s", errs[0])
	}
	if n := len(rec.all()); n != 3 {
		t.Errorf("%d waits, want 3", n)
	}
}
