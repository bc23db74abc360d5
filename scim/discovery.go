package scim

import (
	"net/http"
	"strings"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// features says what this server supports; ServiceProviderConfig reports
// exactly this, so clients never rely on something absent.
var features = struct {
	patch, bulk, filter, changePassword, sort, etag bool
}{patch: true, bulk: true, filter: true, changePassword: true, sort: true, etag: true}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) error {
	bulk := map[string]any{"supported": features.bulk, "maxOperations": 0, "maxPayloadSize": 0}
	if features.bulk {
		bulk["maxOperations"], bulk["maxPayloadSize"] = BulkMaxOps, BulkMaxPayload
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/headwater/headwater#scim",
		"patch":            map[string]any{"supported": features.patch},
		"bulk":             bulk,
		"filter":           map[string]any{"supported": features.filter, "maxResults": MaxResults},
		"changePassword":   map[string]any{"supported": features.changePassword},
		"sort":             map[string]any{"supported": features.sort},
		"etag":             map[string]any{"supported": features.etag},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A Headwater API token with the scim scope: headwater token create --scope scim",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": s.base(r) + "/ServiceProviderConfig"},
	})
	return nil
}

func (s *Server) allSchemas() []*schema.Schema {
	return append(s.users.Schemas(), s.groups.Schemas()...)
}

func (s *Server) schemaJSON(r *http.Request, sc *schema.Schema) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"},
		"id":          sc.ID,
		"name":        sc.Name,
		"description": sc.Description,
		"attributes":  sc.Attributes,
		"meta":        map[string]any{"resourceType": "Schema", "location": s.base(r) + "/Schemas/" + sc.ID},
	}
}

func (s *Server) listSchemas(w http.ResponseWriter, r *http.Request) error {
	var out []any
	for _, sc := range s.allSchemas() {
		out = append(out, s.schemaJSON(r, sc))
	}
	writeJSON(w, http.StatusOK, listResponse(out, len(out), 1))
	return nil
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	for _, sc := range s.allSchemas() {
		if strings.EqualFold(sc.ID, id) {
			writeJSON(w, http.StatusOK, s.schemaJSON(r, sc))
			return nil
		}
	}
	return scimerr.New(http.StatusNotFound, "", "no schema %q", id)
}

func (s *Server) resourceTypeJSON(r *http.Request, rt *schema.ResourceType) map[string]any {
	var ext []map[string]any
	for _, e := range rt.Extensions {
		ext = append(ext, map[string]any{"schema": e.Schema.ID, "required": e.Required})
	}
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":               rt.ID,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Description,
		"schema":           rt.Core.ID,
		"schemaExtensions": ext,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": s.base(r) + "/ResourceTypes/" + rt.ID},
	}
}

func (s *Server) listResourceTypes(w http.ResponseWriter, r *http.Request) error {
	out := []any{s.resourceTypeJSON(r, s.users), s.resourceTypeJSON(r, s.groups)}
	writeJSON(w, http.StatusOK, listResponse(out, len(out), 1))
	return nil
}

func (s *Server) getResourceType(w http.ResponseWriter, r *http.Request) error {
	for _, rt := range []*schema.ResourceType{s.users, s.groups} {
		if strings.EqualFold(rt.ID, r.PathValue("id")) {
			writeJSON(w, http.StatusOK, s.resourceTypeJSON(r, rt))
			return nil
		}
	}
	return scimerr.New(http.StatusNotFound, "", "no resource type %q", r.PathValue("id"))
}

func listResponse(items []any, total, startIndex int) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{
		"schemas":      []string{schema.ListURN},
		"totalResults": total,
		"startIndex":   startIndex,
		"itemsPerPage": len(items),
		"Resources":    items,
	}
}
