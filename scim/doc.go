// Package scim serves SCIM 2.0 (RFC 7643/7644) at /scim/v2 so that HR
// systems and identity providers (Entra ID, Okta) provision users and
// groups into Headwater. The protocol pieces live in sub-packages: schema
// (attribute definitions), filter (filter and PATCH path grammar), resource
// (mapping to authority's records); this package is the HTTP layer.
package scim
