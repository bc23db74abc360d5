package samlidp

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Signed requests. With the HTTP-Redirect binding the signature covers the
// query string (SAML bindings §3.4.4.1), built from the parameters exactly
// as the SP encoded them; with HTTP-POST it is an enveloped XML signature.
// A request that carries a signature is verified against the SP's signing
// certificates and refused if it does not verify; an unsigned one is
// refused when the SP's metadata says AuthnRequestsSigned="true" (or, for
// logout, whenever the SP has a signing certificate).

var sigAlgs = map[string]crypto.Hash{
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": crypto.SHA256,
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": crypto.SHA512,
	"http://www.w3.org/2000/09/xmldsig#rsa-sha1":        crypto.SHA1,
}

// checkRequestSignature verifies the signature of a SAML message received
// in r; param is SAMLRequest or SAMLResponse, xml its decoded XML.
func (i *IdP) checkRequestSignature(r *http.Request, xml []byte, c *cachedSP, param string) error {
	return verifyMessage(r, xml, c.certs, c.wantSign, param)
}

func verifyMessage(r *http.Request, xml []byte, certs []*x509.Certificate, required bool, param string) error {
	if r.Method == http.MethodGet {
		raw := rawQueryParams(r.URL.RawQuery)
		sig, hasSig := raw["Signature"]
		if !hasSig {
			if required {
				return errors.New("the request is not signed")
			}
			return nil
		}
		if len(certs) == 0 {
			return errors.New("the request is signed, but the SP's metadata has no signing certificate to check it with")
		}
		alg, err := url.QueryUnescape(raw["SigAlg"])
		if err != nil {
			return err
		}
		h, ok := sigAlgs[alg]
		if !ok {
			return fmt.Errorf("signature algorithm %q is not supported", alg)
		}
		signed := param + "=" + raw[param]
		if rs, ok := raw["RelayState"]; ok {
			signed += "&RelayState=" + rs
		}
		signed += "&SigAlg=" + raw["SigAlg"]
		sigText, err := url.QueryUnescape(sig)
		if err != nil {
			return err
		}
		sigBytes, err := base64.StdEncoding.DecodeString(sigText)
		if err != nil {
			return fmt.Errorf("the signature is not base64: %w", err)
		}
		hh := h.New()
		hh.Write([]byte(signed))
		sum := hh.Sum(nil)
		for _, c := range certs {
			if pk, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pk, h, sum, sigBytes) == nil {
				return nil
			}
		}
		return errors.New("the signature does not match any of the SP's signing certificates")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		return fmt.Errorf("parsing the request: %w", err)
	}
	root := doc.Root()
	if root == nil {
		return errors.New("empty request")
	}
	if root.FindElement("./Signature") == nil {
		if required {
			return errors.New("the request is not signed")
		}
		return nil
	}
	if len(certs) == 0 {
		return errors.New("the request is signed, but the SP's metadata has no signing certificate to check it with")
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: certs})
	vc.IdAttribute = "ID"
	if _, err := vc.Validate(root); err != nil {
		return fmt.Errorf("the XML signature does not verify: %w", err)
	}
	return nil
}

// rawQueryParams splits a query string into its parameters, keeping the
// values URL-encoded as sent (the Redirect binding signs those bytes).
func rawQueryParams(q string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := out[k]; !dup && k != "" {
			out[k] = v
		}
	}
	return out
}
