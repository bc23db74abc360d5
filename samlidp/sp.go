package samlidp

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/headwater/headwater/authority"
)

// cachedSP is a registered SP with its metadata parsed.
type cachedSP struct {
	sp       *authority.ServiceProvider
	meta     *saml.EntityDescriptor
	spsso    *saml.SPSSODescriptor
	certs    []*x509.Certificate // signing certificates
	wantSign bool                // AuthnRequestsSigned="true"
}

func (c *cachedSP) displayName() string {
	if c.sp.Name != "" {
		return c.sp.Name
	}
	return c.sp.EntityID
}

// defaultACS is the ACS for IdP-initiated sign-in: the default HTTP-POST
// one, else the first HTTP-POST one.
func (c *cachedSP) defaultACS() *saml.IndexedEndpoint {
	var first *saml.IndexedEndpoint
	for k := range c.spsso.AssertionConsumerServices {
		e := &c.spsso.AssertionConsumerServices[k]
		if e.Binding != saml.HTTPPostBinding {
			continue
		}
		if e.IsDefault != nil && *e.IsDefault {
			return e
		}
		if first == nil {
			first = e
		}
	}
	return first
}

// sloEndpoint is the SP's single logout service, preferring HTTP-POST.
func (c *cachedSP) sloEndpoint() *saml.Endpoint {
	var redirect *saml.Endpoint
	for k := range c.spsso.SingleLogoutServices {
		e := &c.spsso.SingleLogoutServices[k]
		switch e.Binding {
		case saml.HTTPPostBinding:
			return e
		case saml.HTTPRedirectBinding:
			if redirect == nil {
				redirect = e
			}
		}
	}
	return redirect
}

type unknownSPError struct{ entityID string }

func (e *unknownSPError) Error() string {
	return fmt.Sprintf("service provider %q is not registered", e.entityID)
}

// ParseMetadata reads an SP's metadata: an EntityDescriptor, or an
// EntitiesDescriptor holding exactly one, with an SPSSODescriptor that has
// at least one HTTP-POST assertion consumer service.
func ParseMetadata(b []byte) (*saml.EntityDescriptor, error) {
	if len(b) > maxSAMLMessage*4 {
		return nil, errors.New("metadata larger than 1 MiB")
	}
	ed := new(saml.EntityDescriptor)
	err := xml.Unmarshal(b, ed)
	if err != nil || ed.EntityID == "" {
		var eds saml.EntitiesDescriptor
		if xml.Unmarshal(b, &eds) == nil && len(eds.EntityDescriptors) > 0 {
			if len(eds.EntityDescriptors) != 1 {
				return nil, fmt.Errorf("the metadata describes %d entities; register one SP at a time", len(eds.EntityDescriptors))
			}
			ed, err = &eds.EntityDescriptors[0], nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the metadata is not valid SAML metadata XML: %w", err)
	}
	if ed.EntityID == "" {
		return nil, errors.New("the metadata has no entityID")
	}
	if len(ed.SPSSODescriptors) == 0 {
		return nil, errors.New("the metadata has no SPSSODescriptor: is this an SP's metadata?")
	}
	post := false
	for _, sd := range ed.SPSSODescriptors {
		for _, a := range sd.AssertionConsumerServices {
			if a.Binding == saml.HTTPPostBinding {
				if u, err := url.Parse(a.Location); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return nil, fmt.Errorf("assertion consumer service %q is not an http(s) URL", a.Location)
				}
				post = true
			}
		}
	}
	if !post {
		return nil, errors.New("the metadata lists no AssertionConsumerService with the HTTP-POST binding")
	}
	for _, sd := range ed.SPSSODescriptors {
		if _, err := signingCerts(&sd); err != nil {
			return nil, err
		}
	}
	return ed, nil
}

func signingCerts(sd *saml.SPSSODescriptor) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, kd := range sd.KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
			if err != nil {
				return nil, fmt.Errorf("an SP signing certificate is not base64: %w", err)
			}
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return nil, fmt.Errorf("an SP signing certificate cannot be parsed: %w", err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// FetchMetadata gets metadata from url with a timeout and a size cap.
func FetchMetadata(ctx context.Context, client *http.Client, metadataURL string) ([]byte, error) {
	u, err := url.Parse(metadataURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("metadata URL %q is not an http(s) URL", metadataURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching metadata: %s answered %s", u.Host, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("fetching metadata: %w", err)
	}
	if len(b) > 1<<20 {
		return nil, errors.New("fetching metadata: larger than 1 MiB")
	}
	return b, nil
}

// serviceProvider returns a registered SP, its metadata parsed (cached
// until the registration changes).
func (i *IdP) serviceProvider(ctx context.Context, entityID string) (*authority.ServiceProvider, *cachedSP, error) {
	if entityID == "" {
		return nil, nil, &unknownSPError{entityID: "(none)"}
	}
	sp, err := i.auth.GetServiceProvider(ctx, entityID)
	if err != nil {
		if errors.Is(err, authority.ErrNotFound) {
			return nil, nil, &unknownSPError{entityID: entityID}
		}
		return nil, nil, err
	}
	i.spMu.Lock()
	c, ok := i.spCache[entityID]
	i.spMu.Unlock()
	if ok && c.sp.Modified.Equal(sp.Modified) {
		return c.sp, &c, nil
	}
	ed, err := ParseMetadata([]byte(sp.MetadataXML))
	if err != nil {
		return nil, nil, fmt.Errorf("the stored metadata of %s: %w", entityID, err)
	}
	c = cachedSP{sp: sp, meta: ed, spsso: &ed.SPSSODescriptors[0]}
	c.certs, _ = signingCerts(c.spsso)
	c.wantSign = c.spsso.AuthnRequestsSigned != nil && *c.spsso.AuthnRequestsSigned
	i.spMu.Lock()
	i.spCache[entityID] = c
	i.spMu.Unlock()
	return sp, &c, nil
}

// spProvider lets crewjam's request validation find registered SPs.
type spProvider struct{ i *IdP }

func (p spProvider) GetServiceProvider(r *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	_, c, err := p.i.serviceProvider(r.Context(), entityID)
	var ue *unknownSPError
	if errors.As(err, &ue) {
		return nil, os.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	return c.meta, nil
}

// samlIDP is the crewjam IdentityProvider used to parse and check
// requests; it never signs (this package does).
func (i *IdP) samlIDP(ctx context.Context) *saml.IdentityProvider {
	cur, _, err := i.keys.keys(ctx)
	idp := &saml.IdentityProvider{
		MetadataURL:             *mustURL(i.EntityID()),
		SSOURL:                  *mustURL(i.url("/saml/sso")),
		LogoutURL:               *mustURL(i.url("/saml/slo")),
		ServiceProviderProvider: spProvider{i},
	}
	if err == nil {
		idp.Key, idp.Certificate = cur.key, cur.cert
	}
	return idp
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{}
	}
	return u
}
