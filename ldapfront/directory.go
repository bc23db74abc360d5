package ldapfront

import (
	"context"
	"errors"

	"github.com/headwater/headwater/ldapfront/directory"
	"github.com/headwater/headwater/ldapfront/wire"
)

func (c *conn) requester() directory.Requester {
	who := c.identity()
	return directory.Requester{Anonymous: who.anonymous, Kind: who.kind, ID: who.id, Roles: who.roles}
}

// searchDirectory runs a search below the RootDSE, with Simple Paged
// Results (RFC 2696): the cookie is the directory's opaque cursor, so
// paging holds no state on the server.
func (c *conn) searchDirectory(ctx context.Context, msg *wire.Message, req *wire.SearchRequest) {
	done := func(r wire.Result, ctls ...wire.Control) {
		c.send(msg.ID, &wire.SearchResultDone{Result: r}, ctls...)
	}
	var opts directory.Options
	paged := false
	if ctl, ok := wire.FindControl(msg.Controls, wire.OIDPagedResults); ok {
		pr, err := wire.ParsePagedResults(ctl)
		if err != nil {
			done(wire.Result{Code: wire.ResultProtocolError, DiagnosticMessage: err.Error()})
			return
		}
		if pr.Size == 0 {
			// A page size of 0 abandons the paged search (RFC 2696 §3).
			done(wire.Result{Code: wire.ResultSuccess}, wire.PagedResults{}.Control())
			return
		}
		paged = true
		opts.PageSize, opts.Cursor = int(pr.Size), string(pr.Cookie)
	}
	res, err := c.s.dir.Search(ctx, c.requester(), req, opts, func(e wire.SearchResultEntry) error {
		c.send(msg.ID, &e)
		return nil
	})
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return // abandoned: no response (RFC 4511 §4.11)
	}
	var ctls []wire.Control
	if paged {
		ctls = append(ctls, wire.PagedResults{Cookie: []byte(res.Next)}.Control())
	}
	done(wire.Result{Code: res.Code, MatchedDN: res.MatchedDN, DiagnosticMessage: res.Diagnostic}, ctls...)
}

func (c *conn) compare(ctx context.Context, id int64, req *wire.CompareRequest) {
	code, err := c.s.dir.Compare(ctx, c.requester(), req.DN, req.Attribute, req.Value)
	diag := ""
	if err != nil {
		diag = err.Error()
	}
	c.send(id, &wire.CompareResponse{Result: wire.Result{Code: code, DiagnosticMessage: diag}})
}
