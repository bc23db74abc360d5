package samlidp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/authoritytest"
	"github.com/headwater/headwater/internal/web"
	"github.com/headwater/headwater/samlidp"
)

const spEntity = "https://sp.example.com/metadata"
const acsURL = "https://sp.example.com/acs"

func spMetadata(extra string) string {
	return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + spEntity + `">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"` + extra + `>
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + acsURL + `" index="0" isDefault="true"/>
  </SPSSODescriptor>
</EntityDescriptor>`
}

// fakeSessions stands in for the portal: one fixed signed-in user, or none.
type fakeSessions struct {
	mu   sync.Mutex
	s    *authority.Session
	u    *authority.User
	auth *authority.Authority
}

func (f *fakeSessions) Current(r *http.Request) (*authority.Session, *authority.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.s == nil {
		return nil, nil, authority.ErrNoSession
	}
	return f.s, f.u, nil
}

func (f *fakeSessions) Require(w http.ResponseWriter, r *http.Request, next string, fresh time.Time) (*authority.Session, *authority.User, bool) {
	s, u, err := f.Current(r)
	if err != nil || (!fresh.IsZero() && s.AuthnInstant.Before(fresh)) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil, nil, false
	}
	return s, u, true
}

type fixture struct {
	idp  *samlidp.IdP
	auth *authority.Authority
	sess *fakeSessions
	srv  *httptest.Server
}

func newFixture(t testing.TB, sp *authority.ServiceProvider) *fixture {
	t.Helper()
	a, _ := authoritytest.New(t, nil)
	ctx := context.Background()
	u, err := a.CreateUser(ctx, &authority.User{UserName: "alice", State: authority.StateActive,
		Emails: []authority.Email{{Value: "alice@example.com"}}, Name: authority.Name{GivenName: "Alice", FamilyName: "L"}}, "Rabbit-Hole-2026")
	if err != nil {
		t.Fatal(err)
	}
	_, s, err := a.CreateSession(ctx, authority.Session{UserID: u.ID}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := web.NewPages(nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{auth: a, sess: &fakeSessions{s: s, u: u, auth: a}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.idp.ServeHTTP(w, r) }))
	t.Cleanup(f.srv.Close)
	pub, _ := url.Parse(f.srv.URL)
	if f.idp, err = samlidp.New(ctx, samlidp.Config{Auth: a, Sessions: f.sess, Pages: pages, PublicURL: pub}); err != nil {
		t.Fatal(err)
	}
	if sp != nil {
		if _, err := a.PutServiceProvider(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func authnRequest(id, dest string, extra string) string {
	return fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" Version="2.0" IssueInstant="%s" Destination="%s" AssertionConsumerServiceURL="%s"%s><saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>`,
		id, time.Now().UTC().Format(time.RFC3339), dest, acsURL, extra, spEntity)
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// post sends an AuthnRequest with the POST binding and follows the IdP's
// own redirect to resume; it returns the final status and body.
func (f *fixture) post(t testing.TB, xmlReq string) (int, string) {
	t.Helper()
	resp, err := noFollow.PostForm(f.srv.URL+"/saml/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(xmlReq))}})
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/saml/sso/resume") {
		resp, err = noFollow.Get(f.srv.URL + resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		body = readAll(resp)
	}
	return resp.StatusCode, body
}

func readAll(r *http.Response) string {
	defer r.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(r.Body)
	return b.String()
}

// samlResponse pulls the SAMLResponse out of the auto-post page.
func samlResponse(t testing.TB, page string) *etree.Document {
	t.Helper()
	i := strings.Index(page, `name="SAMLResponse" value="`)
	if i < 0 {
		t.Fatalf("no SAMLResponse in page:\n%s", page)
	}
	v := page[i+len(`name="SAMLResponse" value="`):]
	v = v[:strings.IndexByte(v, '"')]
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(v, "&#43;", "+"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestResponseShapeAndSigning(t *testing.T) {
	for _, sign := range []string{"both", "response", "assertion"} {
		t.Run(sign, func(t *testing.T) {
			f := newFixture(t, &authority.ServiceProvider{EntityID: spEntity, MetadataXML: spMetadata(""), Sign: sign,
				Attributes: []authority.AttributeMapping{{Name: "mail", Field: "email"}, {Name: "tier", Field: "=gold"}}})
			id := "id-" + sign
			code, page := f.post(t, authnRequest(id, f.srv.URL+"/saml/sso", ""))
			if code != 200 {
				t.Fatalf("%d %s", code, page)
			}
			if !strings.Contains(page, `action="`+acsURL+`"`) {
				t.Fatal("the form does not post to the ACS")
			}
			doc := samlResponse(t, page)
			resp := doc.Root()
			a := resp.FindElement("./Assertion")
			if resp.SelectAttrValue("InResponseTo", "") != id || resp.SelectAttrValue("Destination", "") != acsURL {
				t.Fatalf("response attributes: %v", resp.Attr)
			}
			scd := a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")
			if scd.SelectAttrValue("Recipient", "") != acsURL || scd.SelectAttrValue("InResponseTo", "") != id || scd.SelectAttr("Address") != nil {
				t.Fatalf("SubjectConfirmationData: %v", scd.Attr)
			}
			if a.FindElement("./Conditions/AudienceRestriction/Audience").Text() != spEntity {
				t.Fatal("audience")
			}
			notAfter, _ := time.Parse(time.RFC3339, scd.SelectAttrValue("NotOnOrAfter", ""))
			if d := time.Until(notAfter); d < 4*time.Minute || d > 6*time.Minute {
				t.Fatalf("NotOnOrAfter in %s, want about 5m", d)
			}
			if a.FindElement("./Subject/NameID").Text() != "alice@example.com" {
				t.Fatal("NameID")
			}
			got := map[string]string{}
			for _, at := range a.FindElements("./AttributeStatement/Attribute") {
				got[at.SelectAttrValue("Name", "")] = at.FindElement("./AttributeValue").Text()
			}
			if got["mail"] != "alice@example.com" || got["tier"] != "gold" || len(got) != 2 {
				t.Fatalf("attributes: %v", got)
			}
			respSigned := resp.FindElement("./Signature") != nil
			assertSigned := a.FindElement("./Signature") != nil
			if respSigned != (sign != "assertion") || assertSigned != (sign != "response") {
				t.Fatalf("sign=%s: response signed %v, assertion signed %v", sign, respSigned, assertSigned)
			}
			// The signature verifies with the metadata's certificate, and
			// uses RSA-SHA256.
			cert := idpCert(t, f)
			el := resp
			if !respSigned {
				el = a
			}
			vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
			vc.IdAttribute = "ID"
			if _, err := vc.Validate(el); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if alg := el.FindElement("./Signature/SignedInfo/SignatureMethod").SelectAttrValue("Algorithm", ""); alg != dsig.RSASHA256SignatureMethod {
				t.Fatalf("signature method %s", alg)
			}
		})
	}
}

func idpCert(t testing.TB, f *fixture) *x509.Certificate {
	t.Helper()
	md, err := f.idp.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(ed.IDPSSODescriptors[0].KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data)
	c, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNameIDFormats(t *testing.T) {
	f := newFixture(t, &authority.ServiceProvider{EntityID: spEntity, MetadataXML: spMetadata(""), AllowedNameIDFormats: []string{"email", "persistent"}})
	nameID := func(id, format string) (string, string) {
		x := authnRequest(id, f.srv.URL+"/saml/sso", "")
		if format != "" {
			x = strings.Replace(x, "</saml:Issuer>", `</saml:Issuer><samlp:NameIDPolicy Format="`+format+`"/>`, 1)
		}
		code, page := f.post(t, x)
		if code != 200 {
			t.Fatalf("%d %s", code, page)
		}
		doc := samlResponse(t, page)
		n := doc.FindElement("//Assertion/Subject/NameID")
		if n == nil {
			st := doc.FindElement("//Status/StatusCode/StatusCode")
			return "", st.SelectAttrValue("Value", "")
		}
		return n.Text(), n.SelectAttrValue("Format", "")
	}
	p1, fm := nameID("id-p1", samlidp.FormatPersistent)
	p2, _ := nameID("id-p2", samlidp.FormatPersistent)
	if fm != samlidp.FormatPersistent || p1 == "" || p1 != p2 || strings.Contains(p1, "alice") {
		t.Fatalf("persistent NameID %q / %q (%s)", p1, p2, fm)
	}
	if e, fm := nameID("id-e", ""); e != "alice@example.com" || fm != samlidp.FormatEmail {
		t.Fatalf("default: %q %s", e, fm)
	}
	// Transient is not allowed for this SP: InvalidNameIDPolicy.
	if _, st := nameID("id-t", samlidp.FormatTransient); st != saml.StatusInvalidNameIDPolicy {
		t.Fatalf("transient: status %s", st)
	}
	// Another SP gets another persistent ID for the same user.
	other := strings.ReplaceAll(spMetadata(""), spEntity, "https://other.example.com/metadata")
	if _, err := f.auth.PutServiceProvider(context.Background(), &authority.ServiceProvider{EntityID: "https://other.example.com/metadata", MetadataXML: other}); err != nil {
		t.Fatal(err)
	}
	x := strings.ReplaceAll(authnRequest("id-o", f.srv.URL+"/saml/sso", ""), spEntity, "https://other.example.com/metadata")
	x = strings.Replace(x, "</saml:Issuer>", `</saml:Issuer><samlp:NameIDPolicy Format="`+samlidp.FormatPersistent+`"/>`, 1)
	code, page := f.post(t, x)
	if code != 200 {
		t.Fatal(page)
	}
	if o := samlResponse(t, page).FindElement("//Assertion/Subject/NameID").Text(); o == p1 {
		t.Fatal("the persistent NameID is the same for two SPs")
	}
}

func TestGroupRestrictionAndLoginWindow(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	g, err := f.auth.CreateGroup(ctx, &authority.Group{DisplayName: "admins"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.PutServiceProvider(ctx, &authority.ServiceProvider{EntityID: spEntity, MetadataXML: spMetadata(""), Groups: []string{g.ID}}); err != nil {
		t.Fatal(err)
	}
	code, page := f.post(t, authnRequest("id-g1", f.srv.URL+"/saml/sso", ""))
	if code != http.StatusForbidden || !strings.Contains(page, "open to members of certain groups only") {
		t.Fatalf("non-member: %d %s", code, page)
	}
	f.auth.AddMembers(ctx, g.ID, []string{f.sess.u.ID})
	if code, page := f.post(t, authnRequest("id-g2", f.srv.URL+"/saml/sso", "")); code != 200 {
		t.Fatalf("member: %d %s", code, page)
	}
	// A request that sat on the login page longer than crewjam's 90 s
	// window is still answered: its age is judged when it arrived.
	f.sess.mu.Lock()
	s := f.sess.s
	f.sess.s = nil
	f.sess.mu.Unlock()
	resp, err := noFollow.PostForm(f.srv.URL+"/saml/sso", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(authnRequest("id-slow", f.srv.URL+"/saml/sso", "")))}})
	if err != nil {
		t.Fatal(err)
	}
	resume := resp.Header.Get("Location")
	readAll(resp)
	resp, _ = noFollow.Get(f.srv.URL + resume)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
		t.Fatalf("no session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	readAll(resp)
	saml.TimeNow = func() time.Time { return time.Now().Add(3 * time.Minute) }
	defer func() { saml.TimeNow = time.Now }()
	f.sess.mu.Lock()
	f.sess.s = s
	f.sess.mu.Unlock()
	resp, _ = noFollow.Get(f.srv.URL + resume)
	if body := readAll(resp); resp.StatusCode != 200 || !strings.Contains(body, "SAMLResponse") {
		t.Fatalf("after a slow login: %d %s", resp.StatusCode, body)
	}
	// The parked request is answered once.
	resp, _ = noFollow.Get(f.srv.URL + resume)
	if readAll(resp); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("resume twice: %d", resp.StatusCode)
	}
}

// TestSignedPOSTRequest: an enveloped signature on a POST AuthnRequest is
// verified; a tampered request fails.
func TestSignedPOSTRequest(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "sp"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	kd := `><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(der) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor`
	md := strings.Replace(spMetadata(` AuthnRequestsSigned="true"`), `protocol" AuthnRequestsSigned="true">`, `protocol" AuthnRequestsSigned="true"`+kd+`>`, 1)
	f := newFixture(t, &authority.ServiceProvider{EntityID: spEntity, MetadataXML: md})
	sign := func(x string) string {
		doc := etree.NewDocument()
		doc.ReadFromString(x)
		ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tlsCert(der, key, cert)))
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod)
		signed, err := ctx.SignEnveloped(doc.Root())
		if err != nil {
			t.Fatal(err)
		}
		out := etree.NewDocument()
		out.SetRoot(signed)
		s, _ := out.WriteToString()
		return s
	}
	if code, page := f.post(t, authnRequest("id-unsigned", f.srv.URL+"/saml/sso", "")); code != http.StatusForbidden {
		t.Fatalf("unsigned: %d %s", code, page)
	}
	if code, page := f.post(t, sign(authnRequest("id-signed", f.srv.URL+"/saml/sso", ""))); code != 200 {
		t.Fatalf("signed: %d %s", code, page)
	}
	signed := sign(authnRequest("id-tamper", f.srv.URL+"/saml/sso", ` IsPassive="false"`))
	tampered := strings.Replace(signed, `IsPassive="false"`, `IsPassive="true"`, 1)
	if tampered == signed {
		t.Fatal("nothing tampered")
	}
	if code, page := f.post(t, tampered); code != http.StatusForbidden || !strings.Contains(page, "not signed correctly") {
		t.Fatalf("tampered: %d %s", code, page)
	}
}

func tlsCert(der []byte, key *rsa.PrivateKey, cert *x509.Certificate) tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}
