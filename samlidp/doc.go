// Package samlidp will be the SAML 2.0 identity provider. It is not built
// yet: see the SAML issue.
package samlidp
