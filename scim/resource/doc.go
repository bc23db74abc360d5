// Package resource translates between Headwater's records (authority.User,
// authority.Group) and their SCIM 2.0 representations (RFC 7643), and
// shapes responses as RFC 7644 asks: attribute projection and sortBy.
//
// A representation is a map[string]any in the shape encoding/json produces
// with Decoder.UseNumber: objects are map[string]any, arrays []any, numbers
// json.Number. Core attributes sit at the top level and extension
// attributes under their extension's URN. What this package produces has
// the same shape, so that filters, projection and sorting see one form
// whether a resource came from a client or from the store.
package resource
