// Package directory is the directory view of Headwater's LDAP front end: it
// renders users, groups and service accounts as LDAP entries under the base
// DN, evaluates search filters against them with the matching rules of each
// attribute's syntax, and decides who may read which entry.
//
// The tree (CONTRACT.md, section LDAP):
//
//	<base>                      dcObject, organization
//	  ou=people                 organizationalUnit
//	    uid=<userName>          inetOrgPerson, posixAccount
//	  ou=groups                 organizationalUnit
//	    cn=<displayName>        groupOfNames, groupOfUniqueNames, posixGroup
//	  ou=services               organizationalUnit
//	    cn=<name>               applicationProcess, simpleSecurityObject
//
// Decisions the server relies on:
//
//   - No password, hash or userPassword attribute is ever rendered, for any
//     requester.
//   - Suspended and staged users stay visible (so group memberships keep
//     resolving in applications) and carry the ppolicy operational attribute
//     pwdAccountLockedTime: 000001010000Z, which OpenLDAP uses for an account
//     locked until an administrator unlocks it.
//   - Access: the admin and ldap-reader roles read the whole tree; any other
//     bound user or service account reads its own entry, the groups and the
//     containers; anonymous requesters read nothing. An unreadable entry is
//     treated as absent: a search never returns it, a search based on it or
//     a compare against it answers noSuchObject, and an anonymous search
//     answers success with no entries, as OpenLDAP does with "none" ACLs.
//     The rootDSE and the subschema entry belong to the server.
//   - Groups are not nested in Headwater, so LDAP_MATCHING_RULE_IN_CHAIN
//     (1.2.840.113556.1.4.1941) is plain DN equality on memberOf, member and
//     uniqueMember.
//   - Filters follow RFC 4511's three-valued logic: an attribute the
//     directory does not know, a matching rule it does not know or an
//     assertion value that is not valid for the attribute's syntax makes
//     that item Undefined, which never matches and stays Undefined under
//     NOT. It is never an error.
//   - Attribute options (cn;lang-en) are ignored: no value here carries
//     options, so cn;x names cn.
package directory
