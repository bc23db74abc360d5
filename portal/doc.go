// Package portal will serve the login page and the self-service portal. It
// is not built yet: see the SAML and portal issue.
package portal
