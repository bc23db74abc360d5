// Package samltest is the SAML half of Headwater's end-to-end test harness:
// an independent service provider (node-saml, run as a child process from
// sp/), IdP metadata parsing, test signing keys, and an outside check of XML
// signatures with xmlsec1. It is imported only by tests.
//
// A test of an IdP at base drives a login through Chromium like this:
//
//	md, err := samltest.FetchIdPMetadata(ctx, base+"/saml/metadata")
//	cfg, err := md.SPConfig(samltest.BindingPOST)
//	cfg.NameIDFormat = samltest.NameIDFormatEmail
//	sp := samltest.StartSP(t, cfg)
//	// register sp.MetadataXML() with the IdP, then:
//	ctx := browsertest.NewBrowser(t)
//	browsertest.Navigate(t, ctx, sp.LoginURL())
//	// ... log in at the IdP's form ...
//	browsertest.WaitURLPrefix(t, ctx, sp.ACSURL())
//	res, err := sp.Last() // res.OK, res.NameID, res.Attributes
//	xml, _ := res.ResponseXML()
//	err = samltest.VerifyWithXmlsec1(t, xml, md.SigningCertsPEM[0])
package samltest
