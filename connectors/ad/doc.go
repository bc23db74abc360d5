// Package ad provisions Headwater users into Active Directory over LDAPS
// (or LDAP with StartTLS), as one bind account with the rights to manage
// users in an OU.
//
// Accounts are created in the directory's userOU with a sAMAccountName
// derived from the login (AD's 20-character pre-Windows 2000 name), the
// login as userPrincipalName and the display name as cn, renamed (modrdn)
// when the display name changes. Passwords go in unicodePwd, which AD
// accepts only over an encrypted connection; a new account is created
// disabled, given its password and only then enabled, so it is never
// usable without one. Account ids are objectGUIDs, which survive renames
// and moves.
//
// Changes made in AD itself are read with DirSync (the cookie is the
// cursor) or, when the DC refuses DirSync, by uSNChanged. Import lists the
// accounts of importOUs with paged searches.
//
// The package registers the "ad" kind with the connectors framework. Its
// tests run a real Samba domain controller (scripts/samba-ad.sh).
package ad
