package api

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/samlidp"
)

// SAML is what the admin API needs from the IdP.
type SAML interface {
	Metadata(ctx context.Context) ([]byte, error)
	PrepareNextKey(ctx context.Context) (*x509.Certificate, error)
	PromoteNextKey(ctx context.Context) (*x509.Certificate, error)
}

// SetSAML connects the SAML endpoints of the API; get returns the IdP once
// it is up. public is the server's public URL (for activation links).
func (x *API) SetSAML(get func(ctx context.Context) (SAML, error), public *url.URL) {
	x.saml, x.public = get, public
}

// SPInput registers a service provider as JSON. Either MetadataXML or
// MetadataURL is required.
type SPInput struct {
	MetadataXML          string                       `json:"metadataXml"`
	MetadataURL          string                       `json:"metadataUrl"`
	Name                 string                       `json:"name"`
	Preset               string                       `json:"preset"`
	NameIDFormat         string                       `json:"nameIdFormat"`
	AllowedNameIDFormats []string                     `json:"allowedNameIdFormats"`
	Attributes           []authority.AttributeMapping `json:"attributes"`
	Groups               []string                     `json:"groups"` // names or ids
	Sign                 string                       `json:"sign"`
}

// SPJSON is a registered service provider as the API shows it.
type SPJSON struct {
	EntityID             string                       `json:"entityId"`
	Name                 string                       `json:"name,omitempty"`
	MetadataURL          string                       `json:"metadataUrl,omitempty"`
	NameIDFormat         string                       `json:"nameIdFormat,omitempty"`
	AllowedNameIDFormats []string                     `json:"allowedNameIdFormats,omitempty"`
	Preset               string                       `json:"preset,omitempty"`
	Attributes           []authority.AttributeMapping `json:"attributes,omitempty"`
	Groups               []string                     `json:"groups,omitempty"`
	Sign                 string                       `json:"sign"`
	ACS                  []string                     `json:"acs"`
	SignsRequests        bool                         `json:"signsRequests"`
	Created              time.Time                    `json:"created"`
	Modified             time.Time                    `json:"modified"`
	LoginURL             string                       `json:"idpInitiatedUrl,omitempty"`
}

func (x *API) spJSON(sp *authority.ServiceProvider) SPJSON {
	j := SPJSON{EntityID: sp.EntityID, Name: sp.Name, MetadataURL: sp.MetadataURL, NameIDFormat: sp.NameIDFormat,
		AllowedNameIDFormats: sp.AllowedNameIDFormats, Preset: sp.Preset, Attributes: sp.Attributes, Groups: sp.Groups,
		Sign: sp.Sign, Created: sp.Created, Modified: sp.Modified}
	if j.Sign == "" {
		j.Sign = "both"
	}
	if ed, err := samlidp.ParseMetadata([]byte(sp.MetadataXML)); err == nil {
		for _, sd := range ed.SPSSODescriptors {
			for _, a := range sd.AssertionConsumerServices {
				j.ACS = append(j.ACS, a.Location)
			}
			for _, kd := range sd.KeyDescriptors {
				if kd.Use == "" || kd.Use == "signing" {
					j.SignsRequests = true
				}
			}
		}
	}
	if x.public != nil {
		j.LoginURL = x.public.String() + "/saml/idp-initiated?" + url.Values{"sp": {sp.EntityID}}.Encode()
	}
	return j
}

var nameIDFormats = []string{"email", "persistent", "transient", "unspecified"}

func (x *API) putSP(w http.ResponseWriter, r *http.Request) error {
	var in SPInput
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if strings.Contains(ct, "xml") {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "metadata larger than 1 MiB"}
		}
		in.MetadataXML = string(b)
		q := r.URL.Query()
		in.Name, in.Preset, in.NameIDFormat, in.Sign = q.Get("name"), q.Get("preset"), q.Get("nameIdFormat"), q.Get("sign")
		if g := q.Get("groups"); g != "" {
			in.Groups = strings.Split(g, ",")
		}
	} else if err := decode(w, r, 2<<20, &in); err != nil {
		return err
	}
	if in.MetadataXML == "" && in.MetadataURL == "" {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "metadataXml", Message: "send the SP's metadata XML (Content-Type: application/samlmetadata+xml) or JSON with metadataXml or metadataUrl"}
	}
	if in.MetadataXML == "" {
		b, err := samlidp.FetchMetadata(r.Context(), nil, in.MetadataURL)
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "metadata_fetch", Field: "metadataUrl", Message: err.Error()}
		}
		in.MetadataXML = string(b)
	}
	ed, err := samlidp.ParseMetadata([]byte(in.MetadataXML))
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_metadata", Field: "metadataXml", Message: err.Error()}
	}
	if in.Preset != "" && !slices.Contains(samlidp.Presets(), in.Preset) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "preset", Message: fmt.Sprintf("unknown preset %q; presets: %s", in.Preset, strings.Join(samlidp.Presets(), ", "))}
	}
	for _, f := range append([]string{in.NameIDFormat}, in.AllowedNameIDFormats...) {
		if f != "" && !slices.Contains(nameIDFormats, f) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "nameIdFormat", Message: fmt.Sprintf("NameID format %q is not one of %s", f, strings.Join(nameIDFormats, ", "))}
		}
	}
	for _, a := range in.Attributes {
		if a.Name == "" || !samlidp.ValidField(a.Field) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "attributes", Message: fmt.Sprintf("attribute %q: field %q is not a user field (userName, email, givenName, familyName, displayName, groups, id, externalId, employeeNumber, department, title, immutableId, or =literal)", a.Name, a.Field)}
		}
	}
	var groups []string
	for _, g := range in.Groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		grp, err := x.auth.GetGroup(r.Context(), g)
		if err != nil {
			grp, err = x.auth.LookupGroup(r.Context(), authority.ByDisplayName, g)
		}
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "groups", Message: fmt.Sprintf("no group named %q", g)}
		}
		groups = append(groups, grp.ID)
	}
	_, existed := x.auth.GetServiceProvider(r.Context(), ed.EntityID)
	sp, err := x.auth.PutServiceProvider(r.Context(), &authority.ServiceProvider{
		EntityID: ed.EntityID, Name: in.Name, MetadataXML: in.MetadataXML, MetadataURL: in.MetadataURL,
		NameIDFormat: in.NameIDFormat, AllowedNameIDFormats: in.AllowedNameIDFormats, Preset: in.Preset,
		Attributes: in.Attributes, Groups: groups, Sign: in.Sign,
	})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if existed == nil {
		status = http.StatusOK
	}
	writeJSON(w, status, x.spJSON(sp))
	return nil
}

func (x *API) listSPs(w http.ResponseWriter, r *http.Request) error {
	if id := r.URL.Query().Get("entityId"); id != "" {
		sp, err := x.auth.GetServiceProvider(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, x.spJSON(sp))
		return nil
	}
	sps, err := x.auth.ListServiceProviders(r.Context())
	if err != nil {
		return err
	}
	out := make([]SPJSON, 0, len(sps))
	for _, sp := range sps {
		out = append(out, x.spJSON(sp))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "total": len(out)})
	return nil
}

func (x *API) deleteSP(w http.ResponseWriter, r *http.Request) error {
	id := r.URL.Query().Get("entityId")
	if id == "" {
		return badRequest("name the SP with ?entityId=")
	}
	if err := x.auth.DeleteServiceProvider(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (x *API) idp(ctx context.Context) (SAML, error) {
	if x.saml == nil {
		return nil, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "the SAML IdP is not enabled on this server"}
	}
	s, err := x.saml(ctx)
	if err != nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the SAML IdP is not ready: " + err.Error()}
	}
	return s, nil
}

func certJSON(c *x509.Certificate) map[string]any {
	sum := sha256.Sum256(c.Raw)
	return map[string]any{"subject": c.Subject.String(), "notBefore": c.NotBefore, "notAfter": c.NotAfter, "sha256": hex.EncodeToString(sum[:])}
}

func (x *API) prepareKey(w http.ResponseWriter, r *http.Request) error {
	s, err := x.idp(r.Context())
	if err != nil {
		return err
	}
	c, err := s.PrepareNextKey(r.Context())
	if err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"next": certJSON(c), "message": "the metadata now publishes this certificate as well; promote it once every SP has refreshed the metadata"})
	return nil
}

func (x *API) promoteKey(w http.ResponseWriter, r *http.Request) error {
	s, err := x.idp(r.Context())
	if err != nil {
		return err
	}
	c, err := s.PromoteNextKey(r.Context())
	if err != nil {
		return badRequest("%v", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"current": certJSON(c)})
	return nil
}

func (x *API) activationLink(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		TTL string `json:"ttl"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, maxBody, &in); err != nil {
			return err
		}
	}
	ttl := 72 * time.Hour
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d <= 0 || d > 30*24*time.Hour {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "ttl", Message: "ttl is a duration between 1s and 720h, such as 72h"}
		}
		ttl = d
	}
	tok, err := x.auth.CreateActivation(r.Context(), r.PathValue("id"), ttl)
	if err != nil {
		if errors.Is(err, authority.ErrNotFound) {
			return err
		}
		return err
	}
	link := "/activate?" + url.Values{"token": {tok}}.Encode()
	if x.public != nil {
		link = x.public.String() + link
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": link, "expires": time.Now().UTC().Add(ttl)})
	return nil
}
