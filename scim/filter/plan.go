package filter

// Equalities returns eq comparisons that must all hold for e to match: the
// eq conjuncts of e's top-level and chain, including those inside value
// filters there (emails[type eq "work" and value eq "x"] contributes
// emails.type eq "work" and emails.value eq "x", since a resource with a
// matching element has such values). Read each one as a filter on its own:
// every resource that matches e matches it. A server with an index on one
// of the paths can take its candidates from the index and evaluate e on
// them alone; the index must compare as the filter does, case-insensitively
// unless Path.Leaf().CaseExact. Nothing under or and not is returned, since neither side of
// an or, nor anything negated, has to hold.
func Equalities(e Expr) []Compare {
	var out []Compare
	var walk func(Expr)
	walk = func(e Expr) {
		switch e := e.(type) {
		case *And:
			walk(e.Left)
			walk(e.Right)
		case *ValuePath:
			walk(e.Filter)
		case *Compare:
			if e.Op == OpEq {
				out = append(out, *e)
			}
		}
	}
	walk(e)
	return out
}
