// Package ldapfront will serve the LDAP front end (RFC 4511) on
// HEADWATER_LDAP_ADDR. It is not built yet: see the LDAP issue. Until then
// no LDAP listener is opened.
package ldapfront
