package resource

import (
	"strings"

	"github.com/headwater/headwater/scim/schema"
)

// This file holds every place where Headwater accepts a request that RFC
// 7643 does not allow, because a provisioning client people depend on
// sends it. Each leniency names its sender, so that it can be dropped when
// the sender is fixed; none changes what a conforming request means.

// compatBoolean reads a boolean attribute. Microsoft Entra ID sends
// booleans as the strings "True" and "False" (in any case), most visibly
// in active; a JSON boolean is the conforming form.
func compatBoolean(v any) (b, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch {
		case strings.EqualFold(x, "true"):
			return true, true
		case strings.EqualFold(x, "false"):
			return false, true
		}
	}
	return false, false
}

// compatBareValue reads a single-valued complex attribute given as a bare
// string. Microsoft Entra ID sends the enterprise manager as the manager's
// id rather than {"value": id}; a bare string stands for the attribute's
// value sub-attribute. Attributes without a value sub-attribute (name)
// get no such reading.
func compatBareValue(a *schema.Attribute, v any) (sub *schema.Attribute, s string, ok bool) {
	s, ok = v.(string)
	if !ok || a.MultiValued {
		return nil, "", false
	}
	sub = a.Sub("value")
	if sub == nil || sub.Type != schema.String {
		return nil, "", false
	}
	return sub, s, true
}

// compatQualifiedKey resolves a top-level key that is an attribute's
// URN-qualified name, such as
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".
// RFC 7643 nests extension attributes under the extension's URN; Microsoft
// Entra ID puts them at the top level with their full names (the form RFC
// 7644 uses for PATCH paths). A key that does not resolve is an unknown
// attribute and ok is false.
func compatQualifiedKey(rt *schema.ResourceType, key string) (p schema.Path, ok bool) {
	if len(key) < 4 || !strings.EqualFold(key[:4], "urn:") {
		return schema.Path{}, false
	}
	p, err := rt.Resolve(key)
	return p, err == nil
}
