// Package scim will serve SCIM 2.0 (RFC 7643/7644) at /scim/v2. It is not
// built yet: see the SCIM issue. Nothing is mounted at /scim/v2 until then.
package scim
