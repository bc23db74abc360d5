// Package connectors will deliver changes to bound directories (Active
// Directory, Microsoft 365, local machines). It is not built yet: see the
// connector framework issue. Until then password changes queue sealed
// outbox entries that nothing delivers.
package connectors
