// Package ldapfront is Headwater's LDAP front end (RFC 4511): legacy
// applications bind and search the users and groups of authority through
// it. The message layer is in wire, the directory view (entries, filters,
// access) in directory; this package runs connections: binds, dispatch,
// limits, timeouts and TLS.
package ldapfront
