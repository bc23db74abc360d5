// Package m365 provisions Headwater users into Microsoft 365 (Entra ID)
// through Microsoft Graph, signing in with MSAL as an app registration of
// each configured tenant.
//
// A directory may span several tenants: each user goes to the tenant that
// has the domain of the user's login among its verified domains, and a
// user whose domain no tenant has verified is reported (Check), never
// provisioned. Account ids are "<tenantId>:<objectId>" because object ids
// are unique only within a tenant.
//
// The package registers the "m365" kind with the connectors framework. It
// is the only package that imports the Graph SDK, whose build is large.
package m365
