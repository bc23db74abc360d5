package graphemu_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/headwater/headwater/internal/graphemu"
)

func TestThrottleNext(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	emu.ThrottleNext(2, 1500*time.Millisecond)
	for i := range 2 {
		r := a.get("/users")
		r.wantError(t, http.StatusTooManyRequests, "TooManyRequests", "Too many requests")
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("request %d: Retry-After %q, want \"2\" (whole seconds, rounded up)", i, got)
		}
	}
	if r := a.get("/users"); r.status != 200 {
		t.Errorf("third request: %d", r.status)
	}
	if n := emu.RequestCount("GET", "/v1.0/users"); n != 3 {
		t.Errorf("throttled requests are counted too: got %d, want 3", n)
	}
}

func TestFaultsAreScopedAndCleared(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	id := a.createUser("scoped@contoso.com")
	if err := emu.InjectFault(graphemu.Fault{Status: 503, RetryAfter: 5 * time.Second, Method: "PATCH", PathPrefix: "/users"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := a.patch("/users/"+id, map[string]any{"jobTitle": "x"})
		r.wantError(t, 503, "serviceNotAvailable", "Try the request again after a delay")
		if r.header.Get("Retry-After") != "5" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if r := a.get("/users/" + id); r.status != 200 {
		t.Errorf("GET under a PATCH-only fault: %d", r.status)
	}
	emu.ClearFaults()
	if r := a.patch("/users/"+id, map[string]any{"jobTitle": "x"}); r.status != 204 {
		t.Errorf("PATCH after ClearFaults: %d", r.status)
	}

	if err := emu.ThrottleFraction(1, time.Second); err != nil {
		t.Fatal(err)
	}
	a.get("/domains").wantError(t, 429, "TooManyRequests", "")
	emu.ClearFaults()
	emu.UnavailableNext(1, 0)
	r := a.get("/domains")
	r.wantError(t, 503, "serviceNotAvailable", "")
	if r.header.Get("Retry-After") != "0" {
		t.Errorf("Retry-After %q, want 0", r.header.Get("Retry-After"))
	}
	if r := a.get("/domains"); r.status != 200 {
		t.Errorf("after UnavailableNext(1): %d", r.status)
	}

	for _, bad := range []graphemu.Fault{{Status: 200}, {Status: 429, Fraction: 2}, {Status: 429, Next: -1}} {
		if err := emu.InjectFault(bad); err == nil {
			t.Errorf("InjectFault(%+v) accepted", bad)
		}
	}
}

func TestThrottleFractionIsSeeded(t *testing.T) {
	run := func() []int {
		cfg := baseConfig()
		cfg.Seed = 42
		emu := start(t, cfg)
		a := newAPI(t, emu, tenantA)
		if err := emu.ThrottleFraction(0.5, time.Second); err != nil {
			t.Fatal(err)
		}
		var statuses []int
		for range 20 {
			statuses = append(statuses, a.get("/domains").status)
		}
		return statuses
	}
	first, second := run(), run()
	n429 := 0
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("same seed, different outcomes: %v vs %v", first, second)
		}
		if first[i] == 429 {
			n429++
		}
	}
	if n429 == 0 || n429 == 20 {
		t.Errorf("fraction 0.5 throttled %d of 20", n429)
	}
}

// TestLatencyDelaysResponses checks only that a delay far longer than the client's deadline
// makes the client give up; it asserts nothing about how long anything took.
func TestLatencyDelaysResponses(t *testing.T) {
	emu := start(t, baseConfig())
	a := newAPI(t, emu, tenantA)
	emu.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, emu.GraphURL()+"/users", nil)
	req.Header.Set("Authorization", "Bearer "+a.tok)
	resp, err := emu.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request returned despite a minute of injected latency")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	emu.SetLatency(0)
	if r := a.get("/users"); r.status != 200 {
		t.Errorf("after SetLatency(0): %d", r.status)
	}
}
