// Package graphemu stands in for Microsoft 365 in tests: it serves, over TLS on loopback, the
// part of Microsoft Graph v1.0 (users, users delta, domains, JSON $batch) and of the Microsoft
// identity platform (OpenID discovery and the client-credentials token endpoint) that Headwater's
// M365 connector uses, answering with the status codes, error bodies, paging links, delta tokens
// and throttling headers that Microsoft documents.
//
// Microsoft cannot be reached from where Headwater is built and tested, and a hand-made fake per
// test would drift from Graph in a different way each time; one emulator that follows the
// documentation, with faults that tests switch on at run time (latency, 429 and 503 with
// Retry-After, the directory's replication delay after a create), keeps every connector test
// honest in the same way. Behaviour that Graph has and the emulator does not is refused loudly
// (501 NotImplemented naming the feature) rather than approximated, so a connector never comes to
// depend on something that only works here.
//
// The emulator keeps everything in memory and is not meant for large directories: listing and
// filtering scan a tenant's users.
package graphemu
