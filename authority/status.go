package authority

import (
	"context"
	"strings"
	"time"
)

// DeliveryStatus says where a user's latest change stands in one bound
// directory, for the portal's status panel and the admin API.
type DeliveryStatus struct {
	Directory string `json:"directory"`
	// State is pending (queued, not yet delivered; Reason says why a retry
	// waits), failed (the target refused it, or it failed too often: a dead
	// letter until an administrator retries or dismisses it), delivered,
	// mismatch (report mode: the target differs), or waiting (the directory
	// needs a password Headwater does not know yet: the next sign-in
	// provides it).
	State    string    `json:"state"`
	Reason   string    `json:"reason,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Since    time.Time `json:"since,omitzero"`
}

// ChangeStatus reports, for each directory the user is bound to, whether
// their changes have reached it.
func (a *Authority) ChangeStatus(ctx context.Context, userID string) ([]DeliveryStatus, error) {
	bindings, err := a.store.Bindings(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]DeliveryStatus, 0, len(bindings))
	for _, b := range bindings {
		st := DeliveryStatus{Directory: b.Directory, State: "delivered"}
		entries, err := a.store.OutboxFor(ctx, b.Directory, userID)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			st.State, st.Since, st.Attempts = "pending", e.Created, e.Attempts
			switch {
			case e.Dead:
				st.State, st.Reason = "failed", e.LastError
			case e.LastError != "":
				st.Reason = "retrying: " + e.LastError
			}
			if st.State == "failed" {
				break
			}
		}
		if len(entries) == 0 {
			switch {
			case b.Unbound:
				st.State, st.Reason = "pending", "the account is being disabled"
			case b.Status == "error":
				st.State, st.Reason = "failed", b.Detail
			case b.Status == "mismatch":
				st.State, st.Reason = "mismatch", "differs: "+strings.Join(b.Mismatch, ", ")
			case b.Status == "" || b.Status == "pending":
				st.State = "pending"
			case b.NeedsPassword:
				st.State, st.Reason = "waiting", "waiting for your next sign-in to learn the password"
			}
			if !b.LastSync.IsZero() {
				st.Since = b.LastSync
			}
		}
		out = append(out, st)
	}
	return out, nil
}
