package m365

import (
	"context"
	"errors"
	"time"

	"github.com/headwater/headwater/connectors"
)

// retryPolicy bounds how long one call waits out Graph's throttling before
// it gives the Retry-After to the framework instead. Short waits are
// cheaper to sit through than to reschedule; long ones would hold the
// directory's worker (and its lock) for nothing.
type retryPolicy struct {
	// retries is how many times a throttled request is sent again.
	retries int
	// maxWait caps the total time slept in one call.
	maxWait time.Duration
	// sleep waits d or until ctx ends; tests replace it to see the waits.
	sleep func(ctx context.Context, d time.Duration) error
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{retries: 3, maxWait: 60 * time.Second, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waiter tracks the waits of one call.
type waiter struct {
	p      retryPolicy
	tries  int
	waited time.Duration
}

// wait sleeps for a throttling answer's Retry-After and reports true, or
// reports false when the call's budget is spent and the error should go to
// the framework as it is.
func (w *waiter) wait(ctx context.Context, after time.Duration) (bool, error) {
	if w.tries >= w.p.retries || w.waited+after > w.p.maxWait {
		return false, nil
	}
	w.tries++
	w.waited += after
	if err := w.p.sleep(ctx, after); err != nil {
		return false, err
	}
	return true, nil
}

// throttledFor reports the Retry-After of a classified throttling error.
func throttledFor(err error) (time.Duration, bool) {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Kind == connectors.KindThrottled {
		return ce.RetryAfter, true
	}
	return 0, false
}

// call runs one Graph request, classifying its error and sending it again
// after each 429 or 503 within the policy's bounds. Every request this
// connector makes is safe to repeat after a throttling answer, which Graph
// gives before doing anything.
func (c *Conn) call(ctx context.Context, t *tenant, what string, fn func(ctx context.Context) error) error {
	w := waiter{p: c.retry}
	for {
		err := classify(fn(ctx), t.id, what)
		after, throttled := throttledFor(err)
		if !throttled {
			return err
		}
		ok, serr := w.wait(ctx, after)
		if serr != nil {
			return serr
		}
		if !ok {
			return err
		}
		c.log.Debug("m365: throttled, waiting", "tenant", t.id, "op", what, "retry_after", after, "attempt", w.tries)
	}
}
