package samltest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const xmldsigNS = "http://www.w3.org/2000/09/xmldsig#"

// signedElement is an element with an ID that holds an enveloped signature.
type signedElement struct {
	space, local, id string
}

// VerifyWithXmlsec1 checks every enveloped signature in rawXML (a SAML
// Response, Assertion or logout message, as XML, not base64) against
// certPEM with xmlsec1, an implementation that shares no code with Go's or
// node's. It returns an error when there is no signature or one does not
// verify; it fails the test when xmlsec1 itself cannot be run, so that a
// missing tool never passes for a rejected signature.
//
// Per signed element it runs
//
//	xmlsec1 --verify --enabled-key-data raw-x509-cert --pubkey-cert-pem CERT
//	  --id-attr:ID NS:LOCAL --node-xpath "//*[@ID='ID']/*[local-name()='Signature' and
//	  namespace-uri()='http://www.w3.org/2000/09/xmldsig#']" FILE
//
// --enabled-key-data raw-x509-cert makes xmlsec1 use the given certificate's
// key and ignore the KeyInfo in the message, so a signature made by any
// other key fails even when that key's certificate travels in KeyInfo.
func VerifyWithXmlsec1(t testing.TB, rawXML []byte, certPEM string) error {
	t.Helper()
	xmlsec1, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatal("samltest: xmlsec1 is not installed: scripts/test-deps.sh installs it (Debian package xmlsec1)")
	}
	signed, err := findSignedElements(rawXML)
	if err != nil {
		return err
	}
	if len(signed) == 0 {
		return errors.New("no enveloped XML signature in the document")
	}
	dir := t.TempDir()
	docPath := filepath.Join(dir, "message.xml")
	certPath := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(docPath, rawXML, 0o600); err != nil {
		t.Fatalf("samltest: %v", err)
	}
	if err := os.WriteFile(certPath, []byte(certPEM), 0o600); err != nil {
		t.Fatalf("samltest: %v", err)
	}
	idAttrs := map[string]bool{}
	var base []string
	base = append(base, "--verify", "--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem", certPath)
	for _, s := range signed {
		name := s.local
		if s.space != "" {
			name = s.space + ":" + s.local
		}
		if !idAttrs[name] {
			idAttrs[name] = true
			base = append(base, "--id-attr:ID", name)
		}
	}
	var errs []error
	for _, s := range signed {
		if strings.ContainsAny(s.id, `'"`) {
			errs = append(errs, fmt.Errorf("%s has an ID with a quote in it: %q", s.local, s.id))
			continue
		}
		args := append(append([]string(nil), base...),
			"--node-xpath", fmt.Sprintf("//*[@ID='%s']/*[local-name()='Signature' and namespace-uri()='%s']", s.id, xmldsigNS),
			docPath)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, xmlsec1, args...).CombinedOutput()
		cancel()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			errs = append(errs, fmt.Errorf("xmlsec1 rejects the signature on %s %s: %s", s.local, s.id, strings.TrimSpace(string(out))))
		default:
			t.Fatalf("samltest: running xmlsec1: %v\n%s", err, out)
		}
	}
	return errors.Join(errs...)
}

// findSignedElements lists, in document order, the elements with an ID
// attribute that have an XML Signature as a direct child.
func findSignedElements(doc []byte) ([]signedElement, error) {
	type open struct {
		el       signedElement
		hasID    bool
		recorded bool
	}
	var stack []*open
	var out []signedElement
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("the document is not well-formed XML: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Space == xmldsigNS && tok.Name.Local == "Signature" && len(stack) > 0 {
				parent := stack[len(stack)-1]
				if parent.hasID && !parent.recorded {
					parent.recorded = true
					out = append(out, parent.el)
				}
			}
			o := &open{el: signedElement{space: tok.Name.Space, local: tok.Name.Local}}
			for _, a := range tok.Attr {
				if a.Name.Space == "" && a.Name.Local == "ID" {
					o.el.id, o.hasID = a.Value, true
				}
			}
			stack = append(stack, o)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
}
