// Package patch applies SCIM PATCH operations (RFC 7644 §3.5.2) to a
// resource in its SCIM JSON form. The engine is all-or-nothing: it works
// on a copy and returns it only when every operation applied.
package patch

import (
	"fmt"
	"strings"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// Op is one PATCH operation.
type Op struct {
	Op    string // add, remove or replace
	Path  string // empty for path-less add/replace
	Value any
}

// Target is a parsed PATCH path: an attribute (with Sub for
// "name.givenName"), an optional value filter selecting elements of a
// multi-valued attribute, and an optional sub-attribute of the selected
// elements ("emails[type eq \"work\"].value").
type Target struct {
	Attr    schema.Path
	Filter  func(elem map[string]any) bool
	SubAttr *schema.Attribute
	// Filtered reports whether a value filter was given (Filter may match
	// nothing).
	Filtered bool
	// TypeEq is X when the filter is exactly `type eq "X"`; the
	// compatibility layer uses it to add an element a replace targets.
	TypeEq string
}

// PathParser parses a PATCH path against the resource type.
type PathParser func(path string) (Target, error)

// Options switch on the compatibility rules real clients need; see
// compat.go for each rule and which client sends what.
type Options struct {
	Compat bool
}

// ParseRequest reads a PatchOp message (RFC 7644 §3.5.2).
func ParseRequest(body map[string]any, opts Options) ([]Op, error) {
	if !hasSchema(body["schemas"], schema.PatchOpURN) {
		return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "a PATCH body needs \"schemas\": [%q]", schema.PatchOpURN)
	}
	raw, ok := lookup(body, "Operations")
	list, isList := raw.([]any)
	if !ok || !isList || len(list) == 0 {
		return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "a PATCH body needs a non-empty \"Operations\" list")
	}
	ops := make([]Op, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "Operations[%d] must be an object", i)
		}
		var op Op
		name, _ := lookup(m, "op")
		op.Op, ok = name.(string)
		if !ok {
			return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "Operations[%d].op must be add, remove or replace", i)
		}
		if opts.Compat {
			op.Op = compatOpName(op.Op)
		}
		if op.Op != "add" && op.Op != "remove" && op.Op != "replace" {
			return nil, scimerr.BadRequest(scimerr.InvalidSyntax, "Operations[%d].op %q must be add, remove or replace", i, op.Op)
		}
		if p, ok := lookup(m, "path"); ok {
			if op.Path, ok = p.(string); !ok {
				return nil, scimerr.BadRequest(scimerr.InvalidPath, "Operations[%d].path must be a string", i)
			}
		}
		op.Value, _ = lookup(m, "value")
		if op.Op != "remove" {
			if _, present := lookup(m, "value"); !present {
				return nil, scimerr.BadRequest(scimerr.InvalidValue, "Operations[%d] (%s) needs a value", i, op.Op)
			}
		}
		if op.Op == "remove" && op.Path == "" {
			return nil, scimerr.BadRequest(scimerr.NoTarget, "Operations[%d]: remove needs a path", i)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// Apply applies ops in order to a deep copy of res and returns the copy.
// On the first failing operation it returns the error and res is
// unchanged: a PATCH applies entirely or not at all.
func Apply(rt *schema.ResourceType, res map[string]any, ops []Op, parse PathParser, opts Options) (map[string]any, error) {
	out := deepCopy(res).(map[string]any)
	for i, op := range ops {
		if err := applyOne(rt, out, op, parse, opts); err != nil {
			if se, ok := err.(*scimerr.Error); ok {
				se.Detail = fmt.Sprintf("Operations[%d] (%s %s): %s", i, op.Op, op.Path, se.Detail)
				return nil, se
			}
			return nil, err
		}
	}
	return out, nil
}

func applyOne(rt *schema.ResourceType, res map[string]any, op Op, parse PathParser, opts Options) error {
	if op.Path == "" {
		// Path-less add/replace: the value is an object of attribute
		// paths and values.
		m, ok := op.Value.(map[string]any)
		if !ok {
			return scimerr.BadRequest(scimerr.InvalidValue, "without a path the value must be an object of attributes")
		}
		for k, v := range m {
			if strings.EqualFold(k, "schemas") {
				continue
			}
			// An extension's attributes may come nested under its URN.
			if sch := rt.SchemaByURN(k); sch != nil && sch != rt.Core {
				sub, ok := v.(map[string]any)
				if !ok {
					return scimerr.BadRequest(scimerr.InvalidValue, "%s must be an object", k)
				}
				for sk, sv := range sub {
					if err := applyOne(rt, res, Op{Op: op.Op, Path: sch.ID + ":" + sk, Value: sv}, parse, opts); err != nil {
						return err
					}
				}
				continue
			}
			if opts.Compat && skipUnchangedReadOnly(rt, res, k, v) {
				continue
			}
			if err := applyOne(rt, res, Op{Op: op.Op, Path: k, Value: v}, parse, opts); err != nil {
				return err
			}
		}
		return nil
	}
	t, err := parse(op.Path)
	if err != nil {
		return err
	}
	if t.Attr.Attr.Mutability == schema.ReadOnly || (t.Attr.Sub != nil && t.Attr.Sub.Mutability == schema.ReadOnly) {
		return scimerr.BadRequest(scimerr.Mutability, "%s is read-only", t.Attr.Attr.Name)
	}
	container := containerOf(rt, res, t.Attr, op.Op != "remove")
	if container == nil {
		return nil // removing from an absent extension: nothing to do
	}
	name := t.Attr.Attr.Name
	switch {
	case t.Filtered:
		return applyFiltered(container, name, t, op, opts)
	case t.Attr.Sub != nil:
		return applySub(container, name, t.Attr.Sub.Name, t.Attr.Attr.MultiValued, op)
	case t.Attr.Attr.MultiValued:
		return applyMulti(container, name, t.Attr.Attr, op, opts)
	default:
		return applySingle(container, name, t.Attr.Attr, op)
	}
}

// containerOf returns the map holding the attribute: the resource itself
// for core attributes, the extension's object otherwise (created when
// create is set).
func containerOf(rt *schema.ResourceType, res map[string]any, p schema.Path, create bool) map[string]any {
	if p.IsCore(rt) {
		return res
	}
	if v, ok := lookup(res, p.Schema.ID); ok {
		if m, ok := v.(map[string]any); ok {
			return m
		}
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	res[p.Schema.ID] = m
	addSchema(res, p.Schema.ID)
	return m
}

func applySingle(c map[string]any, name string, a *schema.Attribute, op Op) error {
	switch op.Op {
	case "remove":
		if a.Required {
			return scimerr.BadRequest(scimerr.Mutability, "%s is required and cannot be removed", a.Name)
		}
		del(c, name)
	case "add", "replace":
		if a.Type == schema.Complex {
			// A complex value merges on add and replaces on replace.
			nv, ok := op.Value.(map[string]any)
			if !ok {
				return scimerr.BadRequest(scimerr.InvalidValue, "%s must be an object", a.Name)
			}
			if old, ok := get(c, name).(map[string]any); ok && op.Op == "add" {
				for k, v := range nv {
					set(old, k, v)
				}
				return nil
			}
			set(c, name, deepCopy(nv))
			return nil
		}
		set(c, name, op.Value)
	}
	return nil
}

func applySub(c map[string]any, name, sub string, multi bool, op Op) error {
	if multi {
		// "emails.value" without a filter addresses every element.
		list, _ := get(c, name).([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if op.Op == "remove" {
					del(m, sub)
				} else {
					set(m, sub, op.Value)
				}
			}
		}
		return nil
	}
	m, ok := get(c, name).(map[string]any)
	if !ok {
		if op.Op == "remove" {
			return nil
		}
		m = map[string]any{}
		set(c, name, m)
	}
	if op.Op == "remove" {
		del(m, sub)
		return nil
	}
	set(m, sub, op.Value)
	return nil
}

func applyMulti(c map[string]any, name string, a *schema.Attribute, op Op, opts Options) error {
	values := asList(op.Value)
	switch op.Op {
	case "remove":
		if op.Value != nil && opts.Compat {
			// Entra removes group members with the members listed in value.
			removeListed(c, name, values)
			return nil
		}
		del(c, name)
	case "replace":
		set(c, name, dedupe(deepCopy(values).([]any)))
		normalizePrimary(c, name, values)
	case "add":
		cur, _ := get(c, name).([]any)
		merged := dedupe(append(append([]any(nil), cur...), deepCopy(values).([]any)...))
		set(c, name, merged)
		normalizePrimary(c, name, values)
	}
	return nil
}

func applyFiltered(c map[string]any, name string, t Target, op Op, opts Options) error {
	list, _ := get(c, name).([]any)
	matched := 0
	var kept []any
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || !t.Filter(m) {
			kept = append(kept, e)
			continue
		}
		matched++
		switch {
		case op.Op == "remove" && t.SubAttr == nil:
			continue // drop the element
		case op.Op == "remove":
			del(m, t.SubAttr.Name)
		case t.SubAttr != nil:
			set(m, t.SubAttr.Name, op.Value)
		case op.Op == "replace":
			nv, ok := op.Value.(map[string]any)
			if !ok {
				return scimerr.BadRequest(scimerr.InvalidValue, "the value replacing a filtered %s element must be an object", name)
			}
			for k := range m {
				delete(m, k)
			}
			for k, v := range nv {
				m[k] = deepCopy(v)
			}
		default: // add merges into the selected elements
			nv, ok := op.Value.(map[string]any)
			if !ok {
				return scimerr.BadRequest(scimerr.InvalidValue, "the value added to a filtered %s element must be an object", name)
			}
			for k, v := range nv {
				set(m, k, deepCopy(v))
			}
		}
		kept = append(kept, m)
	}
	if matched == 0 {
		if op.Op == "remove" {
			return nil
		}
		if opts.Compat {
			if elem, ok := compatNewElement(t, op); ok {
				set(c, name, append(list, elem))
				return nil
			}
		}
		return scimerr.BadRequest(scimerr.NoTarget, "no %s value matches the filter", name)
	}
	if len(kept) == 0 {
		del(c, name)
		return nil
	}
	set(c, name, kept)
	return nil
}
