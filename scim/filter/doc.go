// Package filter parses and evaluates SCIM filters (RFC 7644 §3.4.2.2) and
// PATCH paths (RFC 7644 §3.5.2) against Headwater's schemas, and exposes the
// parsed filter as an AST so the server can answer the indexable part of a
// query from its indexes and evaluate the rest on the candidates.
//
// Parse resolves every attribute against a schema.ResourceType and checks
// each comparison against the attribute's type, so a filter that parses can
// be evaluated without further errors. ASTs are not changed after parsing,
// so they, Match and MatchValue are safe for concurrent use. All parse
// errors are *scimerr.Error with status 400: scimType invalidFilter for
// filters and invalidPath for PATCH paths, with a detail naming the problem
// and its character offset.
//
// Decisions where RFC 7644 leaves room:
//
//   - "schemas" is accepted as a multi-valued, case-insensitive reference
//     (URI) attribute of every resource, because clients filter on it
//     (schemas eq "urn:...:enterprise:2.0:User") although no schema defines it.
//   - A comparison with null is rejected: RFC 7644 defines none, and
//     "not (attr pr)" says the same thing unambiguously.
//   - The compare value must suit the attribute's type (a string for string,
//     reference, binary and dateTime attributes, a number for integer and
//     decimal, true or false for boolean), and a dateTime value must be
//     RFC 3339; a mismatch could never match, so it is reported instead.
//   - A comparison on a complex attribute (emails co "example.com")
//     compares its "value" sub-attribute and is parsed as that
//     (emails.value co "example.com").
//   - "ne" is the negation of "eq": on a multi-valued attribute it matches
//     when no value is equal, and it matches an absent attribute.
//   - Entra ID's emails[type eq "work"].value eq "x" is accepted only
//     through the compatibility layer (see ParseCompat).
package filter
