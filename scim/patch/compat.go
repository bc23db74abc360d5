package patch

import (
	"strings"

	"github.com/headwater/headwater/scim/schema"
)

// The compatibility layer: what Microsoft Entra ID and Okta send that RFC
// 7644 does not describe, accepted only with Options.Compat. Each rule
// names its client.

// compatOpName accepts "Add", "Replace", "Remove" (Entra ID capitalises
// op names).
func compatOpName(op string) string { return strings.ToLower(op) }

// skipUnchangedReadOnly lets a path-less replace carry the resource's own
// id (Okta renames groups with {"id": ..., "displayName": ...}) or meta:
// read-only attributes whose value equals the stored one are ignored
// rather than refused.
func skipUnchangedReadOnly(rt *schema.ResourceType, res map[string]any, key string, v any) bool {
	a := rt.Core.Attr(key)
	if a == nil || a.Mutability != schema.ReadOnly {
		return false
	}
	if strings.EqualFold(key, "id") {
		cur, _ := lookup(res, "id")
		return cur == v
	}
	return strings.EqualFold(key, "meta")
}

// compatNewElement: Entra replaces `emails[type eq "work"].value` on a
// user who has no work email yet and expects the address to be added. For
// a filter of the form `type eq "X"` with a sub-attribute, the new element
// is {type: X, sub: value}.
func compatNewElement(t Target, op Op) (map[string]any, bool) {
	if op.Op != "replace" && op.Op != "add" {
		return nil, false
	}
	if t.SubAttr == nil || t.TypeEq == "" {
		return nil, false
	}
	return map[string]any{"type": t.TypeEq, t.SubAttr.Name: op.Value}, true
}
