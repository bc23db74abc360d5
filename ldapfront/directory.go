package ldapfront

import (
	"context"

	"github.com/headwater/headwater/ldapfront/wire"
)

// searchDirectory and compare are answered by the directory view
// (ldapfront/directory), which is being built; until then every search
// below the RootDSE says so.
func (c *conn) searchDirectory(ctx context.Context, msg *wire.Message, req *wire.SearchRequest) {
	c.send(msg.ID, &wire.SearchResultDone{Result: wire.Result{Code: wire.ResultUnwillingToPerform, DiagnosticMessage: "directory searches are not available yet"}})
}

func (c *conn) compare(ctx context.Context, id int64, req *wire.CompareRequest) {
	c.send(id, &wire.CompareResponse{Result: wire.Result{Code: wire.ResultUnwillingToPerform, DiagnosticMessage: "compare is not available yet"}})
}
