package graphemu

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault makes Graph requests fail the way an overloaded or throttling Graph does. A fault
// applies to Graph requests (each request inside a $batch counts on its own, as Graph
// evaluates throttling per request; the $batch envelope itself is never failed) and not to
// the token endpoint.
type Fault struct {
	// Status is the HTTP status to answer, typically 429 or 503.
	Status int
	// RetryAfter is sent as the Retry-After header, in whole seconds rounded up.
	RetryAfter time.Duration
	// Next, if positive, fails the next Next matching requests and then retires the fault.
	Next int
	// Fraction, if Next is zero, fails this fraction (0 < Fraction <= 1) of matching
	// requests. With both Next and Fraction zero, every matching request fails until
	// ClearFaults.
	Fraction float64
	// Method, if set, restricts the fault to requests with this method.
	Method string
	// PathPrefix, if set, restricts the fault to paths under it, relative to /v1.0
	// (for example "/users").
	PathPrefix string
}

type faultSet struct {
	mu      sync.Mutex
	rules   []*faultRule
	rng     *rand.Rand
	latency time.Duration
}

type faultRule struct {
	Fault
	remaining int
}

// InjectFault adds a fault. Faults are checked in the order they were added; the first one
// that fires answers the request.
func (e *Emulator) InjectFault(f Fault) error {
	if f.Status < 400 || f.Status > 599 {
		return fmt.Errorf("graphemu: fault status %d is not an HTTP error", f.Status)
	}
	if f.Next < 0 || f.Fraction < 0 || f.Fraction > 1 || f.RetryAfter < 0 {
		return errors.New("graphemu: fault Next, Fraction and RetryAfter must be non-negative and Fraction at most 1")
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.rules = append(e.faults.rules, &faultRule{Fault: f, remaining: f.Next})
	return nil
}

// ThrottleNext answers the next n Graph requests with 429 Too Many Requests (n <= 0: none).
func (e *Emulator) ThrottleNext(n int, retryAfter time.Duration) {
	if n <= 0 {
		return
	}
	_ = e.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Next: n})
}

// ThrottleFraction answers the given fraction of Graph requests with 429 until ClearFaults.
func (e *Emulator) ThrottleFraction(fraction float64, retryAfter time.Duration) error {
	if fraction <= 0 {
		return errors.New("graphemu: throttle fraction must be positive")
	}
	return e.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Fraction: fraction})
}

// UnavailableNext answers the next n Graph requests with 503 Service Unavailable (n <= 0: none).
func (e *Emulator) UnavailableNext(n int, retryAfter time.Duration) {
	if n <= 0 {
		return
	}
	_ = e.InjectFault(Fault{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter, Next: n})
}

// UnavailableFraction answers the given fraction of Graph requests with 503 until ClearFaults.
func (e *Emulator) UnavailableFraction(fraction float64, retryAfter time.Duration) error {
	if fraction <= 0 {
		return errors.New("graphemu: unavailable fraction must be positive")
	}
	return e.InjectFault(Fault{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter, Fraction: fraction})
}

// ClearFaults removes all injected faults and the injected latency.
func (e *Emulator) ClearFaults() {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.rules = nil
	e.faults.latency = 0
}

// SetLatency delays every Graph request (a $batch once, not per step) by d.
func (e *Emulator) SetLatency(d time.Duration) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.latency = max(d, 0)
}

// SetReplicationDelay makes users created through the API answer 404 on GET, PATCH and DELETE
// by id or userPrincipalName for d after their creation, as Entra does while a new object
// replicates. Listing, filtering and delta see new users at once. Zero turns it off, also for
// users created while it was on.
func (e *Emulator) SetReplicationDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ecDelay = max(d, 0)
}

func (fs *faultSet) delay() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.latency
}

// fire returns the fault that answers this request, if any.
func (fs *faultSet) fire(method, graphPath string) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, r := range fs.rules {
		if r.Method != "" && !strings.EqualFold(r.Method, method) {
			continue
		}
		if r.PathPrefix != "" && !strings.HasPrefix(graphPath, r.PathPrefix) {
			continue
		}
		switch {
		case r.Next > 0:
			r.remaining--
			if r.remaining <= 0 {
				fs.rules = append(fs.rules[:i:i], fs.rules[i+1:]...)
			}
		case r.Fraction > 0:
			if fs.rng.Float64() >= r.Fraction {
				continue
			}
		}
		f := r.Fault
		return &f
	}
	return nil
}

func faultError(f *Fault) *apiError {
	var ae *apiError
	switch f.Status {
	case http.StatusTooManyRequests:
		ae = newError(f.Status, "TooManyRequests", "Too many requests. Please try again later.")
	case http.StatusServiceUnavailable:
		ae = newError(f.Status, "serviceNotAvailable", "The service is not available. Try the request again after a delay. There may be a Retry-After header.")
	default:
		ae = newError(f.Status, "generalException", "An unspecified error has occurred.")
	}
	ae.header = http.Header{"Retry-After": []string{retryAfterSeconds(f.RetryAfter)}}
	return ae
}

// sleep waits for d or until the request is abandoned.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
