package samlidp

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/crewjam/saml"

	"github.com/headwater/headwater/authority"
)

// slo is single logout (SAML profiles §4.4): an SP sends a LogoutRequest;
// the browser's Headwater session ends (on every replica, since sessions
// live in etcd) and the SP gets a signed LogoutResponse. A LogoutResponse
// arriving here (an SP answering) just ends at the signed-out page.
func (i *IdP) slo(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLMessage)
	var param, enc, relay string
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		relay = q.Get("RelayState")
		if enc = q.Get("SAMLRequest"); enc != "" {
			param = "SAMLRequest"
		} else if enc = q.Get("SAMLResponse"); enc != "" {
			param = "SAMLResponse"
		}
	} else {
		if err := r.ParseForm(); err != nil {
			i.fail(w, http.StatusBadRequest, "The sign-out request cannot be read", "The request was too large or malformed.", err.Error())
			return
		}
		relay = r.PostForm.Get("RelayState")
		if enc = r.PostForm.Get("SAMLRequest"); enc != "" {
			param = "SAMLRequest"
		} else if enc = r.PostForm.Get("SAMLResponse"); enc != "" {
			param = "SAMLResponse"
		}
	}
	if param == "" {
		i.fail(w, http.StatusBadRequest, "No sign-out request", "This address is where applications send sign-out requests.", "")
		return
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err == nil && r.Method == http.MethodGet {
		raw, err = inflate(raw)
	}
	if err != nil {
		i.fail(w, http.StatusBadRequest, "The sign-out request cannot be read", "The application sent a message Headwater could not decode.", err.Error())
		return
	}
	if param == "SAMLResponse" {
		i.signedOut(w, r)
		return
	}
	var lr saml.LogoutRequest
	if err := xml.Unmarshal(raw, &lr); err != nil || lr.Issuer == nil || lr.ID == "" {
		i.fail(w, http.StatusBadRequest, "The sign-out request cannot be read", "The application sent a message that is not a SAML LogoutRequest.", fmt.Sprint(err))
		return
	}
	_, entry, err := i.serviceProvider(r.Context(), lr.Issuer.Value)
	if err != nil {
		i.requestError(w, err)
		return
	}
	// Logout must be authenticated (profiles §4.4.4.1): by a signature
	// when the SP has a certificate, else by the session cookie of a
	// session that signed in to this SP.
	s, _, serr := i.sessions.Current(r)
	if err := verifyMessage(r, raw, entry.certs, len(entry.certs) > 0, "SAMLRequest"); err != nil {
		i.fail(w, http.StatusForbidden, "The sign-out request is not signed correctly", "Headwater could not verify that the sign-out request came from the application.", err.Error())
		return
	}
	if len(entry.certs) == 0 && (serr != nil || !visited(s, entry.sp.EntityID)) {
		i.fail(w, http.StatusForbidden, "Sign-out refused", "This browser has no session with that application.", "")
		return
	}
	if lr.NotOnOrAfter != nil && time.Now().After(lr.NotOnOrAfter.Add(maxClockSkew)) {
		i.fail(w, http.StatusBadRequest, "The sign-out request expired", "Go back to the application and sign out again.", "")
		return
	}
	if serr == nil && s != nil {
		if err := i.auth.EndSession(r.Context(), s.UserID, s.ID); err != nil {
			i.unavailable(w, err)
			return
		}
		i.log.Info("SAML single logout", "user_id", s.UserID, "sp", entry.sp.EntityID)
	}
	i.expireCookie(w)
	i.logoutResponse(w, r, entry, &lr, relay)
}

func visited(s *authority.Session, sp string) bool {
	if s == nil {
		return false
	}
	for _, x := range s.SPs {
		if x == sp {
			return true
		}
	}
	return false
}

// expireCookie clears the portal's session cookie in this browser.
func (i *IdP) expireCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: "hw_session", Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (i *IdP) signedOut(w http.ResponseWriter, r *http.Request) {
	i.pages.Error(w, http.StatusOK, "You are signed out", "You have been signed out. You can close this window.", "")
}

// logoutResponse sends the signed LogoutResponse to the SP's SLO endpoint.
func (i *IdP) logoutResponse(w http.ResponseWriter, r *http.Request, c *cachedSP, lr *saml.LogoutRequest, relay string) {
	ep := c.sloEndpoint()
	if ep == nil {
		i.signedOut(w, r)
		return
	}
	dest := ep.Location
	if ep.ResponseLocation != "" {
		dest = ep.ResponseLocation
	}
	resp := &saml.LogoutResponse{
		ID: randomID(), InResponseTo: lr.ID, Version: "2.0", IssueInstant: time.Now().UTC(), Destination: dest,
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: i.EntityID()},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	cur, _, err := i.keys.keys(r.Context())
	if err != nil {
		i.unavailable(w, err)
		return
	}
	if ep.Binding == saml.HTTPPostBinding {
		sig, err := cur.signEnveloped(resp.Element())
		if err != nil {
			i.unavailable(w, err)
			return
		}
		resp.Signature = sig
		b, err := elementBytes(resp.Element())
		if err != nil {
			i.unavailable(w, err)
			return
		}
		i.post(w, c, dest, "SAMLResponse", b, relay)
		return
	}
	b, err := elementBytes(resp.Element())
	if err != nil {
		i.unavailable(w, err)
		return
	}
	q := "SAMLResponse=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflate(b)))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	q += "&SigAlg=" + url.QueryEscape("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
	sig, err := cur.signQuery(q)
	if err != nil {
		i.unavailable(w, err)
		return
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	u, err := url.Parse(dest)
	if err != nil {
		i.unavailable(w, err)
		return
	}
	sep := "?"
	if u.RawQuery != "" {
		sep = "&"
	}
	http.Redirect(w, r, dest+sep+q, http.StatusFound)
}
