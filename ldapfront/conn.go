package ldapfront

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/headwater/headwater/ldapfront/wire"
)

// identity is who a connection is bound as.
type identity struct {
	anonymous bool
	kind      string // "user" or "service"
	id        string
	name      string
	dn        string
	roles     []string
}

var anonymous = identity{anonymous: true}

type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	remote string
	isTLS  bool

	wmu sync.Mutex // one writer at a time
	bw  *bufio.Writer

	mu      sync.Mutex
	who     identity
	pending map[int64]context.CancelFunc
	wg      sync.WaitGroup
	sem     chan struct{}
	jobs    chan job      // to idle workers
	quit    chan struct{} // closed when serve returns: workers exit
	closed  bool
}

func (s *Server) newConn(nc net.Conn, isTLS bool) *conn {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		host = nc.RemoteAddr().String()
	}
	return &conn{
		s: s, nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10), remote: host, isTLS: isTLS,
		who: anonymous, pending: map[int64]context.CancelFunc{}, sem: make(chan struct{}, s.cfg.MaxInFlight),
		jobs: make(chan job), quit: make(chan struct{}),
	}
}

func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.nc.Close()
	}
}

func (c *conn) identity() identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.who
}

func (c *conn) setIdentity(id identity) {
	c.mu.Lock()
	c.who = id
	c.mu.Unlock()
}

// send writes one message; write errors close the connection. Search
// entries are buffered and go out with the search's final message (or
// when the buffer fills), so a one-entry search costs one write.
func (c *conn) send(id int64, op any, controls ...wire.Control) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.RequestTimeout))
	if err := wire.WriteMessage(c.bw, &wire.Message{ID: id, Op: op, Controls: controls}); err != nil {
		c.close()
		return
	}
	if _, entry := op.(*wire.SearchResultEntry); entry {
		return
	}
	if err := c.bw.Flush(); err != nil {
		c.close()
	}
}

// serve reads requests until the peer unbinds or goes away.
func (c *conn) serve(ctx context.Context) {
	defer func() {
		c.wg.Wait()
		close(c.quit)
		c.close()
	}()
	for {
		limit := c.s.cfg.PreBindMaxBytes
		if !c.identity().anonymous {
			limit = c.s.cfg.MaxBytes
		}
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		msg, err := wire.ReadMessageLimits(c.br, wire.Limits{MaxBytes: limit})
		if err != nil {
			c.readFailed(err)
			return
		}
		if ctx.Err() != nil {
			c.send(0, wire.NoticeOfDisconnection(wire.ResultUnavailable, "the server is shutting down").Op)
			return
		}
		if !c.dispatch(ctx, msg) {
			return
		}
	}
}

// readFailed answers what can be answered before closing: a message too
// large or malformed gets a Notice of Disconnection saying why.
func (c *conn) readFailed(err error) {
	var pe *wire.ProtocolError
	var le *wire.LimitError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.As(err, &le):
		c.s.log.Warn("LDAP message refused", "remote", c.remote, "err", err)
		c.sendNotice(wire.ResultProtocolError, err.Error())
	case errors.As(err, &pe):
		c.s.log.Info("malformed LDAP message", "remote", c.remote, "err", err)
		if pe.HasMessageID && pe.HasOpTag {
			if t, ok := wire.ResponseTag(pe.OpTag); ok {
				c.send(pe.MessageID, responseFor(t, wire.Result{Code: wire.ResultProtocolError, DiagnosticMessage: pe.Err.Error()}))
				return
			}
		}
		c.sendNotice(wire.ResultProtocolError, err.Error())
	default:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			c.s.log.Debug("LDAP read failed", "remote", c.remote, "err", err)
		}
	}
}

func (c *conn) sendNotice(code wire.ResultCode, why string) {
	m := wire.NoticeOfDisconnection(code, why)
	c.send(m.ID, m.Op)
}

// supportedControls are the controls this server understands; any other
// control marked critical fails its request with 12.
var supportedControls = map[string]bool{
	wire.OIDPagedResults:      true,
	"2.16.840.1.113730.3.4.2": true, // ManageDsaIT: there are no referrals to manage
}

// dispatch handles one message; it returns false when the connection must
// close.
func (c *conn) dispatch(ctx context.Context, msg *wire.Message) bool {
	for _, ctl := range msg.Controls {
		if ctl.Criticality && !supportedControls[ctl.OID] {
			if t, ok := requestTag(msg.Op); ok {
				if rt, ok := wire.ResponseTag(t); ok {
					c.send(msg.ID, responseFor(rt, wire.Result{Code: wire.ResultUnavailableCriticalExtension,
						DiagnosticMessage: fmt.Sprintf("critical control %s is not supported", ctl.OID)}))
				}
			}
			return true
		}
	}
	switch op := msg.Op.(type) {
	case *wire.UnbindRequest:
		return false
	case *wire.AbandonRequest:
		c.mu.Lock()
		if cancel, ok := c.pending[op.MessageID]; ok {
			cancel()
		}
		c.mu.Unlock()
		return true
	case *wire.BindRequest:
		// A bind waits for the connection's other requests (RFC 4511 §4.2.1).
		c.wg.Wait()
		c.recover(msg.ID, wire.TagBindResponse, func() { c.bind(ctx, msg.ID, op) })
		return !c.isClosed()
	case *wire.ExtendedRequest:
		if op.Name == wire.OIDStartTLS {
			c.wg.Wait()
			return c.startTLS(msg.ID)
		}
	}
	// A search that can match at most one entry through a unique index
	// (uid=..., mail=..., entryUUID=...) runs here, on the reading
	// goroutine, when nothing else is in flight: it takes microseconds, and
	// handing it to a worker costs more than the search itself. Anything
	// that might run long goes to a worker, so Abandon stays readable.
	if sr, ok := msg.Op.(*wire.SearchRequest); ok && len(c.sem) == 0 && uniqueLookup(sr.Filter, 0) {
		rctx, cancel := context.WithTimeout(ctx, c.s.cfg.RequestTimeout)
		c.recover(msg.ID, wire.TagSearchResultDone, func() { c.handle(rctx, msg) })
		cancel()
		return !c.isClosed()
	}
	// Everything else runs concurrently, a bounded number at a time.
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	rctx, cancel := context.WithTimeout(ctx, c.s.cfg.RequestTimeout)
	c.mu.Lock()
	c.pending[msg.ID] = cancel
	c.mu.Unlock()
	c.wg.Add(1)
	j := job{ctx: rctx, cancel: cancel, msg: msg}
	select {
	case c.jobs <- j: // an idle worker of this connection took it
	default:
		go c.worker(j)
	}
	return true
}

// job is one request handed to a worker.
type job struct {
	ctx    context.Context
	cancel context.CancelFunc
	msg    *wire.Message
}

// worker runs requests of one connection. Workers stay for the life of
// the connection (at most MaxInFlight of them, bounded by sem), so a
// busy connection does not pay for a new goroutine and a fresh stack on
// every request.
func (c *conn) worker(j job) {
	for {
		c.run(j)
		select {
		case j = <-c.jobs:
		case <-c.quit:
			return
		}
	}
}

func (c *conn) run(j job) {
	defer func() {
		j.cancel()
		c.mu.Lock()
		delete(c.pending, j.msg.ID)
		c.mu.Unlock()
		<-c.sem
		c.wg.Done()
	}()
	t, _ := requestTag(j.msg.Op)
	rt, _ := wire.ResponseTag(t)
	c.recover(j.msg.ID, rt, func() { c.handle(j.ctx, j.msg) })
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// recover turns a panic in one request into an error answer to it, so one
// bad request cannot take the process down.
func (c *conn) recover(id int64, respTag wire.OpTag, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			c.s.log.Error("panic serving an LDAP request", "remote", c.remote, "panic", p, "stack", string(debug.Stack()))
			if respTag != 0 || id != 0 {
				c.send(id, responseFor(respTag, wire.Result{Code: wire.ResultOther, DiagnosticMessage: "internal error"}))
			}
		}
	}()
	fn()
}

func (c *conn) handle(ctx context.Context, msg *wire.Message) {
	switch op := msg.Op.(type) {
	case *wire.SearchRequest:
		c.search(ctx, msg, op)
	case *wire.CompareRequest:
		c.compare(ctx, msg.ID, op)
	case *wire.ExtendedRequest:
		c.extended(ctx, msg.ID, op)
	case *wire.AddRequest, *wire.ModifyRequest, *wire.DeleteRequest, *wire.ModifyDNRequest:
		t, _ := requestTag(op)
		rt, _ := wire.ResponseTag(t)
		c.send(msg.ID, responseFor(rt, wire.Result{Code: wire.ResultUnwillingToPerform,
			DiagnosticMessage: "Headwater's directory is read-only over LDAP: change users and groups through SCIM (/scim/v2) or the admin API (/api/v1)"}))
	case *wire.UnknownOp:
		if rt, ok := wire.ResponseTag(op.Tag); ok {
			c.send(msg.ID, responseFor(rt, wire.Result{Code: wire.ResultProtocolError, DiagnosticMessage: "operation not supported"}))
		}
	}
}

// startTLS upgrades the connection (RFC 4511 §4.14).
func (c *conn) startTLS(id int64) bool {
	switch {
	case c.s.cfg.TLS == nil:
		c.send(id, &wire.ExtendedResponse{Result: wire.Result{Code: wire.ResultProtocolError, DiagnosticMessage: "StartTLS is not available: no certificate is configured"}, Name: wire.OIDStartTLS})
		return true
	case c.isTLS:
		c.send(id, &wire.ExtendedResponse{Result: wire.Result{Code: wire.ResultOperationsError, DiagnosticMessage: "TLS is already established"}, Name: wire.OIDStartTLS})
		return true
	case c.br.Buffered() > 0:
		// Data sent before the TLS handshake could be injected by anyone.
		c.send(id, &wire.ExtendedResponse{Result: wire.Result{Code: wire.ResultProtocolError, DiagnosticMessage: "data followed the StartTLS request"}, Name: wire.OIDStartTLS})
		return false
	}
	c.send(id, &wire.ExtendedResponse{Result: wire.Result{Code: wire.ResultSuccess}, Name: wire.OIDStartTLS})
	tc := tls.Server(c.nc, c.s.cfg.TLS)
	tc.SetDeadline(time.Now().Add(c.s.cfg.RequestTimeout))
	if err := tc.Handshake(); err != nil {
		c.s.log.Info("StartTLS handshake failed", "remote", c.remote, "err", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	c.wmu.Lock()
	c.nc = tc
	c.br = bufio.NewReaderSize(tc, 16<<10)
	c.bw = bufio.NewWriterSize(tc, 16<<10)
	c.isTLS = true
	c.wmu.Unlock()
	return true
}

func requestTag(op any) (wire.OpTag, bool) {
	switch op.(type) {
	case *wire.BindRequest:
		return wire.TagBindRequest, true
	case *wire.SearchRequest:
		return wire.TagSearchRequest, true
	case *wire.ModifyRequest:
		return wire.TagModifyRequest, true
	case *wire.AddRequest:
		return wire.TagAddRequest, true
	case *wire.DeleteRequest:
		return wire.TagDelRequest, true
	case *wire.ModifyDNRequest:
		return wire.TagModifyDNRequest, true
	case *wire.CompareRequest:
		return wire.TagCompareRequest, true
	case *wire.ExtendedRequest:
		return wire.TagExtendedRequest, true
	case *wire.UnknownOp:
		return op.(*wire.UnknownOp).Tag, true
	}
	return 0, false
}

// responseFor builds the response of kind t carrying r.
func responseFor(t wire.OpTag, r wire.Result) any {
	switch t {
	case wire.TagBindResponse:
		return &wire.BindResponse{Result: r}
	case wire.TagSearchResultDone:
		return &wire.SearchResultDone{Result: r}
	case wire.TagModifyResponse:
		return &wire.ModifyResponse{Result: r}
	case wire.TagAddResponse:
		return &wire.AddResponse{Result: r}
	case wire.TagDelResponse:
		return &wire.DeleteResponse{Result: r}
	case wire.TagModifyDNResponse:
		return &wire.ModifyDNResponse{Result: r}
	case wire.TagCompareResponse:
		return &wire.CompareResponse{Result: r}
	}
	return &wire.ExtendedResponse{Result: r}
}

// uniqueAttrs are the attributes whose equality names at most one entry.
var uniqueAttrs = map[string]bool{"uid": true, "mail": true, "entryuuid": true, "uidnumber": true}

// uniqueLookup reports whether a filter is an equality on a unique
// attribute, or an AND holding one: such a search matches at most one
// entry and needs no scan.
func uniqueLookup(f *ber.Packet, depth int) bool {
	if f == nil || depth > 4 || f.ClassType != ber.ClassContext {
		return false
	}
	switch f.Tag {
	case 3: // equalityMatch
		if len(f.Children) != 2 {
			return false
		}
		name, ok := f.Children[0].Value.(string)
		if !ok && f.Children[0].Data != nil {
			name = f.Children[0].Data.String()
		}
		return uniqueAttrs[strings.ToLower(name)]
	case 0: // and
		for _, k := range f.Children {
			if uniqueLookup(k, depth+1) {
				return true
			}
		}
	}
	return false
}
