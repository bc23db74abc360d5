// Package schema describes SCIM 2.0 resources (RFC 7643): attribute
// definitions with their types and case rules, the schemas Headwater
// serves, and the resolution of attribute paths against them. The filter,
// PATCH and discovery code all read these definitions.
package schema

import (
	"fmt"
	"strings"
)

// Type is an attribute's data type (RFC 7643 §2.3).
type Type string

// The SCIM data types.
const (
	String    Type = "string"
	Boolean   Type = "boolean"
	Decimal   Type = "decimal"
	Integer   Type = "integer"
	DateTime  Type = "dateTime"
	Reference Type = "reference"
	Binary    Type = "binary"
	Complex   Type = "complex"
)

// Mutability, Returned and Uniqueness values (RFC 7643 §7).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"

	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"

	UniqueNone   = "none"
	UniqueServer = "server"
	UniqueGlobal = "global"
)

// Attribute defines one attribute. Names compare case-insensitively.
type Attribute struct {
	Name            string       `json:"name"`
	Type            Type         `json:"type"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description,omitempty"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness,omitempty"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
}

// Sub finds a sub-attribute by name, case-insensitively.
func (a *Attribute) Sub(name string) *Attribute {
	return find(a.SubAttributes, name)
}

func find(attrs []*Attribute, name string) *Attribute {
	for _, x := range attrs {
		if strings.EqualFold(x.Name, name) {
			return x
		}
	}
	return nil
}

// Schema is a set of attributes under a URN.
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr finds a top-level attribute by name, case-insensitively.
func (s *Schema) Attr(name string) *Attribute { return find(s.Attributes, name) }

// Extension is a schema extension of a resource type.
type Extension struct {
	Schema   *Schema
	Required bool
}

// ResourceType is a kind of resource: its core schema and extensions.
type ResourceType struct {
	ID          string
	Name        string
	Endpoint    string
	Description string
	Core        *Schema
	Extensions  []Extension
}

// Schemas lists the core schema and the extensions' schemas.
func (rt *ResourceType) Schemas() []*Schema {
	out := []*Schema{rt.Core}
	for _, e := range rt.Extensions {
		out = append(out, e.Schema)
	}
	return out
}

// SchemaByURN finds the core schema or an extension by URN,
// case-insensitively.
func (rt *ResourceType) SchemaByURN(urn string) *Schema {
	for _, s := range rt.Schemas() {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

// Path is a resolved attribute path: the schema holding the attribute,
// the attribute and, for "name.givenName", the sub-attribute.
type Path struct {
	Schema *Schema
	Attr   *Attribute
	Sub    *Attribute // nil when the path names the attribute itself
}

// IsCore reports whether the attribute is in the resource type's core
// schema (top-level in the JSON) rather than an extension (nested under
// the extension's URN).
func (p Path) IsCore(rt *ResourceType) bool { return p.Schema == rt.Core }

// Leaf is the attribute the path ends at.
func (p Path) Leaf() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// String renders the path in its full form.
func (p Path) String() string {
	s := p.Schema.ID + ":" + p.Attr.Name
	if p.Sub != nil {
		s += "." + p.Sub.Name
	}
	return s
}

// PathError says why an attribute path does not resolve.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string { return fmt.Sprintf("attribute path %q: %s", e.Path, e.Reason) }

// Resolve resolves an attribute path as filters and PATCH use it:
// "userName", "name.givenName", "emails.value", or URN-qualified
// ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").
// A path with more than one sub-attribute level is an error.
func (rt *ResourceType) Resolve(path string) (Path, error) {
	sch := rt.Core
	rest := path
	if strings.HasPrefix(strings.ToLower(path), "urn:") {
		// The URN is everything up to the last ':' before the attribute
		// name; the attribute itself never contains ':'.
		i := strings.LastIndexByte(path, ':')
		urn := path[:i]
		sch = rt.SchemaByURN(urn)
		if sch == nil {
			return Path{}, &PathError{path, fmt.Sprintf("unknown schema %q", urn)}
		}
		rest = path[i+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if hasSub && strings.Contains(sub, ".") {
		return Path{}, &PathError{path, "at most one sub-attribute level"}
	}
	a := sch.Attr(name)
	if a == nil {
		return Path{}, &PathError{path, fmt.Sprintf("no attribute %q in %s", name, sch.ID)}
	}
	p := Path{Schema: sch, Attr: a}
	if hasSub {
		if a.Type != Complex {
			return Path{}, &PathError{path, fmt.Sprintf("%s has no sub-attributes", a.Name)}
		}
		if p.Sub = a.Sub(sub); p.Sub == nil {
			return Path{}, &PathError{path, fmt.Sprintf("no sub-attribute %q in %s", sub, a.Name)}
		}
	}
	return p, nil
}
