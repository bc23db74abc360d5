package m365

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/headwater/headwater/connectors"
)

// graphError is a failed Graph request in Graph's own terms. The SDK's
// ODataError is converted at once: its Error method dereferences the
// message without checking, and a Graph error without a body would panic
// whoever prints it.
type graphError struct {
	status     int
	code       string
	message    string
	requestID  string
	retryAfter time.Duration // zero when Graph sent no Retry-After
}

func (e *graphError) Error() string {
	s := fmt.Sprintf("Graph answered %d", e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.message != "" {
		s += ": " + e.message
	}
	if e.requestID != "" {
		s += " (request-id " + e.requestID + ")"
	}
	return s
}

// asGraphError extracts the status, code and message of an SDK error, or
// returns nil for errors that are not Graph answers (network, token).
func asGraphError(err error) *graphError {
	var ge *graphError
	if errors.As(err, &ge) {
		return ge
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		ge = &graphError{status: oe.GetStatusCode()}
		if me := oe.GetErrorEscaped(); me != nil {
			ge.code = deref(me.GetCode())
			ge.message = deref(me.GetMessage())
			if ie := me.GetInnerError(); ie != nil {
				ge.requestID = deref(ie.GetRequestId())
			}
		}
		ge.retryAfter, ge.requestID = fromHeaders(oe.GetResponseHeaders(), ge.requestID)
		return ge
	}
	var ae *abs.ApiError
	if errors.As(err, &ae) && ae.ResponseStatusCode != 0 {
		ge = &graphError{status: ae.ResponseStatusCode, message: ae.Message}
		ge.retryAfter, ge.requestID = fromHeaders(ae.ResponseHeaders, "")
		return ge
	}
	return nil
}

func fromHeaders(h *abs.ResponseHeaders, requestID string) (time.Duration, string) {
	if h == nil {
		return 0, requestID
	}
	var after time.Duration
	if v := h.Get("Retry-After"); len(v) > 0 {
		after = parseRetryAfter(v[0])
	}
	if requestID == "" {
		if v := h.Get("request-id"); len(v) > 0 {
			requestID = v[0]
		}
	}
	return after, requestID
}

// parseRetryAfter reads Retry-After as Graph sends it (whole seconds) or as
// an HTTP date, which RFC 9110 also allows.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// defaultRetryAfter is the wait assumed when a 429 or 503 comes without
// Retry-After, which Graph documents it may do.
const defaultRetryAfter = 5 * time.Second

// classify turns any error from the SDK, MSAL or the network into the
// framework's kinds, keeping Graph's message as the administrator reads it.
// what names the operation and account for the log and the wrapped error.
func classify(err error, tenantID, what string) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) || errors.Is(err, connectors.ErrNotFound) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("m365: %s: %w", what, err)
	}
	var te *tokenError
	if errors.As(err, &te) {
		return classifyToken(te)
	}
	if ge := asGraphError(err); ge != nil {
		return classifyGraph(ge, tenantID, what)
	}
	if isNetwork(err) {
		return connectors.Unreachable(fmt.Sprintf("cannot reach Microsoft Graph for tenant %s: %v", tenantID, rootCause(err)),
			fmt.Errorf("m365: %s: %w", what, err))
	}
	return connectors.Transient("", fmt.Errorf("m365: %s: %w", what, err))
}

func classifyGraph(ge *graphError, tenantID, what string) error {
	wrapped := fmt.Errorf("m365: tenant %s: %s: %w", tenantID, what, ge)
	msg := ge.message
	if msg == "" {
		msg = fmt.Sprintf("Microsoft Graph answered %d %s", ge.status, http.StatusText(ge.status))
	}
	switch {
	case ge.status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", connectors.ErrNotFound, wrapped)
	case ge.status == http.StatusTooManyRequests || ge.status == http.StatusServiceUnavailable:
		after := ge.retryAfter
		if after <= 0 {
			after = defaultRetryAfter
		}
		return connectors.Throttled(after, msg, wrapped)
	case ge.status == http.StatusUnauthorized:
		return connectors.AuthFailed(fmt.Sprintf("Microsoft Graph refused the token of tenant %s: %s", tenantID, msg), wrapped)
	case ge.status == http.StatusForbidden:
		return connectors.AuthFailed(fmt.Sprintf("the app of tenant %s lacks a permission for this (it needs User.ReadWrite.All and Domain.Read.All, and a role such as User Administrator to reset passwords): %s", tenantID, msg), wrapped)
	case ge.status == http.StatusRequestTimeout || ge.status == http.StatusFailedDependency:
		return connectors.Transient(msg, wrapped)
	case ge.status >= 400 && ge.status < 500:
		// Duplicate userPrincipalName, password complexity, unverified
		// domain, invalid property: Graph will answer the same again.
		return connectors.Rejected(msg, wrapped)
	}
	return connectors.Transient(msg, wrapped)
}

// classifyToken explains a failed sign-in. The identity platform's
// AADSTS description is what an administrator can search for, so it is
// kept; a response from it means the credentials are at fault, no response
// means the network is.
func classifyToken(te *tokenError) error {
	var ce msalerrors.CallErr
	if errors.As(te.err, &ce) && ce.Resp != nil {
		desc := oauthDescription(ce.Resp)
		if desc == "" {
			desc = fmt.Sprintf("the token endpoint answered %d %s", ce.Resp.StatusCode, http.StatusText(ce.Resp.StatusCode))
		}
		if ce.Resp.StatusCode == http.StatusTooManyRequests || ce.Resp.StatusCode >= 500 {
			return connectors.Transient(fmt.Sprintf("Microsoft Entra could not issue a token for tenant %s now: %s", te.tenantID, desc), te)
		}
		return connectors.AuthFailed(fmt.Sprintf("Microsoft Entra refused to sign in app %s to tenant %s: %s (check the tenant id, the client id and the secret %q)",
			te.clientID, te.tenantID, desc, te.credName), te)
	}
	if isNetwork(te.err) {
		return connectors.Unreachable(fmt.Sprintf("cannot reach Microsoft Entra to sign in to tenant %s: %v", te.tenantID, rootCause(te.err)), te)
	}
	return connectors.AuthFailed(fmt.Sprintf("sign-in of app %s to tenant %s failed: %v", te.clientID, te.tenantID, te.err), te)
}

// oauthDescription reads the first line of error_description ("AADSTS…:
// …"), leaving out the trace and correlation ids that follow it.
func oauthDescription(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return ""
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(b, &body) != nil {
		return ""
	}
	desc, _, _ := strings.Cut(body.Description, "\r\n")
	desc, _, _ = strings.Cut(desc, "\n")
	if desc == "" {
		desc = body.Error
	}
	return strings.TrimSpace(desc)
}

func isNetwork(err error) bool {
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe) || errors.As(err, &ne)
}

// rootCause is the innermost error, for messages: "connection refused"
// says more than the SDK's layers around it.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
