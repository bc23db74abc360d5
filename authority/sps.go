package authority

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/headwater/headwater/authority/store"
)

// ServiceProvider is a registered SAML service provider. The SAML front
// end parses and checks the metadata; the authority keeps the record and
// decides who may use it.
type ServiceProvider struct {
	EntityID    string `json:"entityId"`
	Name        string `json:"name,omitempty"` // shown on the portal's tile
	MetadataXML string `json:"metadataXml"`
	MetadataURL string `json:"metadataUrl,omitempty"`
	// NameIDFormat is the default: email, persistent, transient or
	// unspecified. AllowedNameIDFormats lists the formats an SP may ask
	// for (empty: all four).
	NameIDFormat         string   `json:"nameIdFormat,omitempty"`
	AllowedNameIDFormats []string `json:"allowedNameIdFormats,omitempty"`
	// Preset names a built-in attribute mapping (aws, google, salesforce,
	// m365); Attributes add to or override it.
	Preset     string             `json:"preset,omitempty"`
	Attributes []AttributeMapping `json:"attributes,omitempty"`
	// Groups, when set, restricts sign-in to members of these groups (ids).
	Groups []string `json:"groups,omitempty"`
	// Sign is what gets signed: response, assertion or both (default).
	Sign     string    `json:"sign,omitempty"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// AttributeMapping sends one user field under an attribute name.
type AttributeMapping struct {
	Name         string `json:"name"`
	FriendlyName string `json:"friendlyName,omitempty"`
	NameFormat   string `json:"nameFormat,omitempty"`
	// Field is a user field: userName, email, givenName, familyName,
	// displayName, groups, id, externalId, employeeNumber, department,
	// title; or a literal as "=value".
	Field string `json:"field"`
}

const objSPs = "sps"

func spKey(entityID string) string { return base64.RawURLEncoding.EncodeToString([]byte(entityID)) }

// PutServiceProvider registers sp, replacing a registration with the same
// entity ID (keeping its creation time).
func (a *Authority) PutServiceProvider(ctx context.Context, sp *ServiceProvider) (*ServiceProvider, error) {
	if strings.TrimSpace(sp.EntityID) == "" {
		return nil, invalid("entityId", "is required")
	}
	if sp.MetadataXML == "" {
		return nil, invalid("metadata", "is required")
	}
	switch sp.Sign {
	case "", "both", "response", "assertion":
	default:
		return nil, invalid("sign", "must be response, assertion or both")
	}
	for _, g := range sp.Groups {
		if _, err := a.store.GetGroup(ctx, g); err != nil {
			return nil, invalid("groups", "no group with id %q", g)
		}
	}
	now := a.now().UTC()
	c := *sp
	c.Created, c.Modified = now, now
	if old, err := a.GetServiceProvider(ctx, sp.EntityID); err == nil {
		c.Created = old.Created
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	if err := a.store.PutObject(ctx, objSPs, spKey(sp.EntityID), b, 0); err != nil {
		return nil, err
	}
	a.store.AppendAudit(ctx, a.audit(ctx, "sp.put", "sp", sp.EntityID, nil))
	return &c, nil
}

// GetServiceProvider returns the SP registered under entityID.
func (a *Authority) GetServiceProvider(ctx context.Context, entityID string) (*ServiceProvider, error) {
	o, err := a.store.GetObject(ctx, objSPs, spKey(entityID))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &store.NotFoundError{Kind: "service provider", Key: entityID}
		}
		return nil, err
	}
	sp := new(ServiceProvider)
	if err := json.Unmarshal(o.Value, sp); err != nil {
		return nil, fmt.Errorf("service provider record: %w", err)
	}
	return sp, nil
}

// ListServiceProviders returns every registered SP by entity ID.
func (a *Authority) ListServiceProviders(ctx context.Context) ([]*ServiceProvider, error) {
	objs, err := a.store.ListObjects(ctx, objSPs, "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]*ServiceProvider, 0, len(objs))
	for _, o := range objs {
		sp := new(ServiceProvider)
		if json.Unmarshal(o.Value, sp) == nil {
			out = append(out, sp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EntityID < out[j].EntityID })
	return out, nil
}

// DeleteServiceProvider removes a registration.
func (a *Authority) DeleteServiceProvider(ctx context.Context, entityID string) error {
	if _, err := a.GetServiceProvider(ctx, entityID); err != nil {
		return err
	}
	if err := a.store.DeleteObject(ctx, objSPs, spKey(entityID)); err != nil {
		return err
	}
	a.store.AppendAudit(ctx, a.audit(ctx, "sp.delete", "sp", entityID, nil))
	return nil
}

// MayUseServiceProvider reports whether the user may sign in to sp: it is
// open to every active user unless it names groups, then only to their
// members.
func (a *Authority) MayUseServiceProvider(ctx context.Context, u *User, sp *ServiceProvider) (bool, error) {
	if u.State != StateActive {
		return false, nil
	}
	if len(sp.Groups) == 0 {
		return true, nil
	}
	for _, g := range sp.Groups {
		ok, err := a.store.IsMember(ctx, g, u.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
