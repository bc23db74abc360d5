package samlidp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/google/uuid"

	"github.com/headwater/headwater/authority"
)

// maxClockSkew is how far back NotBefore reaches, for SPs whose clock runs
// a little behind.
const maxClockSkew = 90 * time.Second

const attrBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"

// presets are the built-in mappings for common SPs: a default NameID format
// and attributes.
var presets = map[string]struct {
	format string
	nameID string // user field for the NameID when the format is email/unspecified/persistent-as-field
	attrs  []authority.AttributeMapping
}{
	// AWS IAM: RoleSessionName is required; Role ("role-arn,provider-arn")
	// is site-specific and added as a literal attribute on registration.
	"aws": {format: "persistent", attrs: []authority.AttributeMapping{
		{Name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName", Field: "email"},
	}},
	// Google Workspace: the primary email is the NameID, nothing else.
	"google": {format: "email", nameID: "email"},
	// Salesforce: the NameID is matched against the user's Federation ID.
	"salesforce": {format: "unspecified", nameID: "email"},
	// Microsoft 365 federation: persistent NameID = ImmutableID, IDPEmail =
	// the user principal name.
	"m365": {format: "persistent", nameID: "immutableId", attrs: []authority.AttributeMapping{
		{Name: "IDPEmail", Field: "email"},
	}},
}

// defaultAttrs go to SPs without a preset or a mapping of their own.
var defaultAttrs = []authority.AttributeMapping{
	{Name: "uid", Field: "userName"},
	{Name: "email", Field: "email"},
	{Name: "givenName", Field: "givenName"},
	{Name: "sn", Field: "familyName"},
	{Name: "displayName", Field: "displayName"},
	{Name: "groups", Field: "groups"},
}

// Presets lists the names of the built-in SP presets.
func Presets() []string {
	out := make([]string, 0, len(presets))
	for k := range presets {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ValidField reports whether f names a user field a mapping can send.
func ValidField(f string) bool {
	if strings.HasPrefix(f, "=") {
		return true
	}
	switch f {
	case "userName", "email", "givenName", "familyName", "displayName", "groups", "id", "externalId",
		"employeeNumber", "department", "title", "immutableId":
		return true
	}
	return false
}

// mappingError is a user the SP's mapping cannot describe (no email for an
// email NameID, say).
type mappingError struct{ msg string }

func (e *mappingError) Error() string { return e.msg }

// nameIDFormat picks the NameID format: the one the SP asks for in its
// NameIDPolicy when the registration allows it, else the registration's
// default (or the preset's, else email).
func (i *IdP) nameIDFormat(req *saml.IdpAuthnRequest, c *cachedSP) (string, error) {
	def := c.sp.NameIDFormat
	if def == "" {
		if p, ok := presets[c.sp.Preset]; ok {
			def = p.format
		} else {
			def = "email"
		}
	}
	defURI := formatNames[def]
	if defURI == "" {
		defURI = def
	}
	asked := ""
	if req.Request.NameIDPolicy != nil && req.Request.NameIDPolicy.Format != nil {
		asked = *req.Request.NameIDPolicy.Format
	}
	if asked == "" || asked == FormatUnspecified {
		return defURI, nil
	}
	allowed := c.sp.AllowedNameIDFormats
	if len(allowed) == 0 {
		allowed = []string{"email", "persistent", "transient", "unspecified"}
	}
	for _, a := range allowed {
		if formatNames[a] == asked || a == asked {
			return asked, nil
		}
	}
	return "", fmt.Errorf("NameID format %s is not allowed for this service provider", asked)
}

// field reads a user field for an attribute or the NameID.
func (i *IdP) field(ctx context.Context, u *authority.User, f string) ([]string, error) {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	switch {
	case strings.HasPrefix(f, "="):
		return []string{f[1:]}, nil
	case f == "userName":
		return one(u.UserName), nil
	case f == "email":
		return one(u.PrimaryEmail()), nil
	case f == "givenName":
		return one(u.Name.GivenName), nil
	case f == "familyName":
		return one(u.Name.FamilyName), nil
	case f == "displayName":
		if u.DisplayName != "" {
			return one(u.DisplayName), nil
		}
		return one(strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)), nil
	case f == "id":
		return one(u.ID), nil
	case f == "externalId":
		return one(u.ExternalID), nil
	case f == "employeeNumber":
		return one(u.Enterprise.EmployeeNumber), nil
	case f == "department":
		return one(u.Enterprise.Department), nil
	case f == "title":
		return one(u.Title), nil
	case f == "immutableId":
		return one(immutableID(u)), nil
	case f == "groups":
		ids, err := i.auth.GroupsOf(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, id := range ids {
			if g, err := i.auth.GetGroup(ctx, id); err == nil {
				names = append(names, g.DisplayName)
			}
		}
		slices.Sort(names)
		return names, nil
	}
	return nil, nil
}

// immutableID is the value Microsoft 365 federation matches users by: the
// user's external ID when an HR system set one, else the base64 of the
// user's UUID (what the M365 connector writes as onPremisesImmutableId).
func immutableID(u *authority.User) string {
	if u.ExternalID != "" {
		return u.ExternalID
	}
	if id, err := uuid.Parse(u.ID); err == nil {
		return base64.StdEncoding.EncodeToString(id[:])
	}
	return base64.StdEncoding.EncodeToString([]byte(u.ID))
}

// nameID computes the subject's NameID value in format.
func (i *IdP) nameID(ctx context.Context, c *cachedSP, u *authority.User, format string) (string, error) {
	p := presets[c.sp.Preset]
	switch format {
	case FormatEmail:
		if e := u.PrimaryEmail(); e != "" {
			return e, nil
		}
		return "", &mappingError{"Your account has no email address, and this application identifies people by email. Ask your administrator to add one."}
	case FormatTransient:
		return randomID(), nil
	case FormatPersistent:
		if p.nameID == "immutableId" {
			return immutableID(u), nil
		}
		// Stable for this user and SP, different for every SP, and
		// revealing nothing about the user.
		m := hmac.New(sha256.New, i.nameKey)
		m.Write([]byte(c.sp.EntityID + "\x00" + u.ID))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24]), nil
	default:
		f := p.nameID
		if f == "" {
			f = "userName"
		}
		v, err := i.field(ctx, u, f)
		if err != nil {
			return "", err
		}
		if len(v) == 0 {
			return "", &mappingError{fmt.Sprintf("Your account has no %s, which this application identifies people by. Ask your administrator.", f)}
		}
		return v[0], nil
	}
}

// attributes maps the user's fields to the SP's attribute statement: the
// preset's (or the defaults when there is neither a preset nor a mapping),
// then the registration's own, which override same-named ones.
func (i *IdP) attributes(ctx context.Context, c *cachedSP, u *authority.User) ([]saml.Attribute, error) {
	var maps []authority.AttributeMapping
	if p, ok := presets[c.sp.Preset]; ok {
		maps = append(maps, p.attrs...)
	} else if len(c.sp.Attributes) == 0 {
		maps = append(maps, defaultAttrs...)
	}
	for _, m := range c.sp.Attributes {
		maps = slices.DeleteFunc(maps, func(x authority.AttributeMapping) bool { return x.Name == m.Name })
		maps = append(maps, m)
	}
	var out []saml.Attribute
	for _, m := range maps {
		vals, err := i.field(ctx, u, m.Field)
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			continue
		}
		nf := m.NameFormat
		if nf == "" {
			nf = attrBasic
			if strings.Contains(m.Name, "://") || strings.HasPrefix(m.Name, "urn:") {
				nf = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
			}
		}
		a := saml.Attribute{Name: m.Name, FriendlyName: m.FriendlyName, NameFormat: nf}
		for _, v := range vals {
			a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		out = append(out, a)
	}
	return out, nil
}

// assertion builds the (unsigned) assertion for u.
func (i *IdP) assertion(ctx context.Context, req *saml.IdpAuthnRequest, c *cachedSP, s *authority.Session, u *authority.User, format string) (*saml.Assertion, error) {
	nid, err := i.nameID(ctx, c, u, format)
	if err != nil {
		return nil, err
	}
	attrs, err := i.attributes(ctx, c, u)
	if err != nil {
		return nil, err
	}
	now := req.Now.UTC()
	notAfter := now.Add(i.validity)
	sessEnd := s.Expires.UTC()
	class := "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	a := &saml.Assertion{
		ID:           randomID(),
		IssueInstant: now,
		Version:      "2.0",
		Issuer:       saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: i.EntityID()},
		Subject: &saml.Subject{
			NameID: &saml.NameID{Format: format, NameQualifier: i.EntityID(), SPNameQualifier: c.sp.EntityID, Value: nid},
			// No Address: browsers reach SPs through proxies and NAT, and
			// SPs that check it (mod_auth_mellon) would refuse every login.
			SubjectConfirmations: []saml.SubjectConfirmation{{
				Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &saml.SubjectConfirmationData{
					InResponseTo: req.Request.ID,
					NotOnOrAfter: notAfter,
					Recipient:    req.ACSEndpoint.Location,
				},
			}},
		},
		Conditions: &saml.Conditions{
			NotBefore:            now.Add(-maxClockSkew),
			NotOnOrAfter:         notAfter,
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: c.sp.EntityID}}},
		},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant:        s.AuthnInstant.UTC(),
			SessionIndex:        sessionIndex(s),
			SessionNotOnOrAfter: &sessEnd,
			AuthnContext:        saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{Value: class}},
		}},
	}
	if len(attrs) > 0 {
		a.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	}
	return a, nil
}

// sessionIndex names the session to SPs without revealing its ID.
func sessionIndex(s *authority.Session) string { return "s-" + digest("session-index\x00" + s.ID)[:32] }

// buildResponse makes the Response, signing what the SP's registration
// says: the assertion, the response, or both (the default). Without an
// assertion it carries the status top/second and msg.
func (i *IdP) buildResponse(ctx context.Context, req *saml.IdpAuthnRequest, c *cachedSP, a *saml.Assertion, top, second, msg string) ([]byte, error) {
	cur, _, err := i.keys.keys(ctx)
	if err != nil {
		return nil, err
	}
	sign := c.sp.Sign
	if sign == "" {
		sign = "both"
	}
	var assertionEl *etree.Element
	if a != nil {
		if sign == "assertion" || sign == "both" {
			sig, err := cur.signEnveloped(a.Element())
			if err != nil {
				return nil, fmt.Errorf("signing the assertion: %w", err)
			}
			a.Signature = sig
		}
		assertionEl = a.Element()
	}
	resp := &saml.Response{
		Destination:  req.ACSEndpoint.Location,
		ID:           randomID(),
		InResponseTo: req.Request.ID,
		IssueInstant: req.Now.UTC(),
		Version:      "2.0",
		Issuer:       &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: i.EntityID()},
		Status:       saml.Status{StatusCode: saml.StatusCode{Value: top}},
	}
	if second != "" {
		resp.Status.StatusCode.StatusCode = &saml.StatusCode{Value: second}
	}
	if msg != "" {
		resp.Status.StatusMessage = &saml.StatusMessage{Value: msg}
	}
	build := func() *etree.Element {
		el := resp.Element()
		if assertionEl != nil {
			el.AddChild(assertionEl)
		}
		return el
	}
	el := build()
	// A status-only response is always signed: it is the only thing that
	// tells the SP the answer came from this IdP.
	if sign == "response" || sign == "both" || a == nil {
		sig, err := cur.signEnveloped(el)
		if err != nil {
			return nil, fmt.Errorf("signing the response: %w", err)
		}
		resp.Signature = sig
		el = build()
	}
	return elementBytes(el)
}
