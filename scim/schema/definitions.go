package schema

// URNs of the schemas Headwater serves.
const (
	UserURN        = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN       = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseURN  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	PosixUserURN   = "urn:headwater:params:scim:schemas:extension:posix:1.0:User"
	PosixGroupURN  = "urn:headwater:params:scim:schemas:extension:posix:1.0:Group"
	ListURN        = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	ErrorURN       = "urn:ietf:params:scim:api:messages:2.0:Error"
	PatchOpURN     = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SearchURN      = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	BulkRequestURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkRespURN    = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// attribute builders keep the definitions below readable; each returns a
// readWrite, default-returned, single-valued, case-insensitive attribute
// that the options adjust.
type opt func(*Attribute)

func attr(name string, t Type, opts ...opt) *Attribute {
	a := &Attribute{Name: name, Type: t, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone}
	for _, o := range opts {
		o(a)
	}
	return a
}

func multi(a *Attribute)    { a.MultiValued = true }
func required(a *Attribute) { a.Required = true }
func exact(a *Attribute)    { a.CaseExact = true }
func readOnly(a *Attribute) { a.Mutability = ReadOnly }
func immutable(a *Attribute) {
	a.Mutability = Immutable
}
func always(a *Attribute)       { a.Returned = ReturnedAlways }
func never(a *Attribute)        { a.Returned = ReturnedNever }
func writeOnly(a *Attribute)    { a.Mutability = WriteOnly }
func serverUnique(a *Attribute) { a.Uniqueness = UniqueServer }
func desc(d string) opt         { return func(a *Attribute) { a.Description = d } }
func subs(s ...*Attribute) opt {
	return func(a *Attribute) { a.SubAttributes = s }
}
func canonical(v ...string) opt { return func(a *Attribute) { a.CanonicalValues = v } }
func refs(v ...string) opt      { return func(a *Attribute) { a.ReferenceTypes = v } }

// multiValuedComplex is the usual value/display/type/primary shape of
// emails, phoneNumbers and the like.
func multiValuedComplex(name, description string, types []string, valueType Type) *Attribute {
	return attr(name, Complex, multi, desc(description), subs(
		attr("value", valueType, desc("The value.")),
		attr("display", String, desc("A label for display.")),
		attr("type", String, canonical(types...), desc("A label for the value's function.")),
		attr("primary", Boolean, desc("The preferred value.")),
	))
}

// commonAttributes are on every resource (RFC 7643 §3.1).
func commonAttributes() []*Attribute {
	return []*Attribute{
		attr("id", String, exact, readOnly, always, serverUnique, desc("Unique identifier assigned by the service provider.")),
		attr("externalId", String, exact, desc("Identifier assigned by the provisioning client.")),
		attr("meta", Complex, readOnly, desc("Resource metadata."), subs(
			attr("resourceType", String, exact, readOnly),
			attr("created", DateTime, readOnly),
			attr("lastModified", DateTime, readOnly),
			attr("location", Reference, readOnly, refs("uri")),
			attr("version", String, exact, readOnly),
		)),
	}
}

// NewUserSchema returns the core User schema (RFC 7643 §4.1) as Headwater
// supports it.
func NewUserSchema() *Schema {
	attrs := append(commonAttributes(),
		attr("userName", String, required, serverUnique, desc("Unique identifier used to sign in.")),
		attr("name", Complex, desc("The components of the user's name."), subs(
			attr("formatted", String), attr("familyName", String), attr("givenName", String),
			attr("middleName", String), attr("honorificPrefix", String), attr("honorificSuffix", String),
		)),
		attr("displayName", String, desc("Name for display.")),
		attr("nickName", String),
		attr("title", String),
		attr("userType", String),
		attr("preferredLanguage", String),
		attr("locale", String),
		attr("timezone", String),
		attr("active", Boolean, desc("false suspends the user: no logins, and bound directories disable the account.")),
		attr("password", String, writeOnly, never, desc("Write-only; checked against the password policy.")),
		multiValuedComplex("emails", "Email addresses; each is unique across users.", []string{"work", "home", "other"}, String),
		multiValuedComplex("phoneNumbers", "Phone numbers.", []string{"work", "home", "mobile", "fax", "pager", "other"}, String),
		attr("groups", Complex, multi, readOnly, desc("Groups the user is a direct member of."), subs(
			attr("value", String, readOnly), attr("$ref", Reference, readOnly, refs("Group")),
			attr("display", String, readOnly), attr("type", String, readOnly, canonical("direct")),
		)),
	)
	return &Schema{ID: UserURN, Name: "User", Description: "User Account", Attributes: attrs}
}

// NewEnterpriseSchema returns the enterprise user extension (RFC 7643 §4.3).
func NewEnterpriseSchema() *Schema {
	return &Schema{ID: EnterpriseURN, Name: "EnterpriseUser", Description: "Enterprise User", Attributes: []*Attribute{
		attr("employeeNumber", String),
		attr("costCenter", String),
		attr("organization", String),
		attr("division", String),
		attr("department", String),
		attr("manager", Complex, desc("The user's manager; value is the manager's id."), subs(
			attr("value", String, exact), attr("$ref", Reference, refs("User")), attr("displayName", String, readOnly),
		)),
	}}
}

// NewPosixUserSchema returns Headwater's POSIX account extension.
func NewPosixUserSchema() *Schema {
	return &Schema{ID: PosixUserURN, Name: "PosixUser", Description: "POSIX account attributes; numbers are allocated when absent and unique.", Attributes: []*Attribute{
		attr("uidNumber", Integer, serverUnique),
		attr("gidNumber", Integer),
		attr("homeDirectory", String, exact),
		attr("loginShell", String, exact),
	}}
}

// NewGroupSchema returns the core Group schema (RFC 7643 §4.2).
func NewGroupSchema() *Schema {
	attrs := append(commonAttributes(),
		attr("displayName", String, required, serverUnique, desc("Unique name of the group.")),
		attr("members", Complex, multi, desc("Members: users by id."), subs(
			attr("value", String, exact, immutable), attr("$ref", Reference, immutable, refs("User")),
			attr("display", String, readOnly), attr("type", String, immutable, canonical("User")),
		)),
	)
	return &Schema{ID: GroupURN, Name: "Group", Description: "Group", Attributes: attrs}
}

// NewPosixGroupSchema returns Headwater's POSIX group extension.
func NewPosixGroupSchema() *Schema {
	return &Schema{ID: PosixGroupURN, Name: "PosixGroup", Description: "POSIX group attributes.", Attributes: []*Attribute{
		attr("gidNumber", Integer, serverUnique),
	}}
}

// NewUserType returns the User resource type with its extensions.
func NewUserType() *ResourceType {
	return &ResourceType{ID: "User", Name: "User", Endpoint: "/Users", Description: "User Account",
		Core: NewUserSchema(), Extensions: []Extension{{Schema: NewEnterpriseSchema()}, {Schema: NewPosixUserSchema()}}}
}

// NewGroupType returns the Group resource type with its extension.
func NewGroupType() *ResourceType {
	return &ResourceType{ID: "Group", Name: "Group", Endpoint: "/Groups", Description: "Group",
		Core: NewGroupSchema(), Extensions: []Extension{{Schema: NewPosixGroupSchema()}}}
}
