package samltest

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// SAML binding URIs as they appear in metadata.
const (
	HTTPRedirectBindingURI = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	HTTPPostBindingURI     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// IdPMetadata is what an SP needs from an IdP's metadata document.
type IdPMetadata struct {
	EntityID string
	// SSO and SLO map a binding URI to the endpoint's Location.
	SSO map[string]string
	SLO map[string]string
	// SigningCertsPEM are the certificates of KeyDescriptors with use
	// "signing" or no use, PEM-encoded.
	SigningCertsPEM []string
	// WantAuthnRequestsSigned is the IDPSSODescriptor's attribute.
	WantAuthnRequestsSigned bool
}

type mdEntity struct {
	XMLName  xml.Name `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntityDescriptor"`
	EntityID string   `xml:"entityID,attr"`
	IDPSSO   []struct {
		WantAuthnRequestsSigned string `xml:"WantAuthnRequestsSigned,attr"`
		KeyDescriptors          []struct {
			Use   string   `xml:"use,attr"`
			Certs []string `xml:"http://www.w3.org/2000/09/xmldsig# KeyInfo>X509Data>X509Certificate"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:metadata KeyDescriptor"`
		SLO []mdEndpoint `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleLogoutService"`
		SSO []mdEndpoint `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleSignOnService"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:metadata IDPSSODescriptor"`
}

type mdEndpoint struct {
	Binding  string `xml:"Binding,attr"`
	Location string `xml:"Location,attr"`
}

// ParseIdPMetadata reads an EntityDescriptor with one IDPSSODescriptor.
func ParseIdPMetadata(data []byte) (*IdPMetadata, error) {
	var ed mdEntity
	if err := xml.Unmarshal(data, &ed); err != nil {
		return nil, fmt.Errorf("IdP metadata is not a SAML EntityDescriptor: %w", err)
	}
	if len(ed.IDPSSO) != 1 {
		return nil, fmt.Errorf("IdP metadata for %q has %d IDPSSODescriptor elements, want 1", ed.EntityID, len(ed.IDPSSO))
	}
	d := ed.IDPSSO[0]
	md := &IdPMetadata{
		EntityID:                ed.EntityID,
		SSO:                     map[string]string{},
		SLO:                     map[string]string{},
		WantAuthnRequestsSigned: d.WantAuthnRequestsSigned == "true" || d.WantAuthnRequestsSigned == "1",
	}
	for _, e := range d.SSO {
		if _, ok := md.SSO[e.Binding]; !ok {
			md.SSO[e.Binding] = e.Location
		}
	}
	for _, e := range d.SLO {
		if _, ok := md.SLO[e.Binding]; !ok {
			md.SLO[e.Binding] = e.Location
		}
	}
	for _, kd := range d.KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, c := range kd.Certs {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
			if err != nil {
				return nil, fmt.Errorf("IdP metadata for %q: a signing X509Certificate is not base64: %w", ed.EntityID, err)
			}
			md.SigningCertsPEM = append(md.SigningCertsPEM, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
		}
	}
	if len(md.SigningCertsPEM) == 0 {
		return nil, fmt.Errorf("IdP metadata for %q has no signing certificate", ed.EntityID)
	}
	return md, nil
}

// FetchIdPMetadata GETs and parses an IdP's metadata document.
func FetchIdPMetadata(ctx context.Context, url string) (*IdPMetadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching IdP metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetching IdP metadata from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching IdP metadata from %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return ParseIdPMetadata(body)
}

// SPConfig is a starting configuration for an SP of this IdP whose
// AuthnRequests go out in the given binding: the SSO location for that
// binding, the SLO location (redirect preferred), and the signing certs.
func (md *IdPMetadata) SPConfig(binding Binding) (SPConfig, error) {
	uri := HTTPRedirectBindingURI
	if binding == BindingPOST {
		uri = HTTPPostBindingURI
	}
	sso, ok := md.SSO[uri]
	if !ok {
		return SPConfig{}, errors.New("IdP metadata has no SingleSignOnService for " + uri)
	}
	slo := md.SLO[HTTPRedirectBindingURI]
	if slo == "" {
		slo = md.SLO[HTTPPostBindingURI]
	}
	return SPConfig{
		IdPEntityID: md.EntityID,
		IdPSSOURL:   sso,
		IdPSLOURL:   slo,
		IdPCertsPEM: append([]string(nil), md.SigningCertsPEM...),
		Binding:     binding,
	}, nil
}
