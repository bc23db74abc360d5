package graphemu

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint (RFC 7515 §4.1.7).
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// assertionSkew is the clock skew tolerated on a client assertion's exp and nbf.
const assertionSkew = 5 * time.Minute

type jwtHeader struct {
	Alg     string `json:"alg"`
	X5t     string `json:"x5t"`
	X5tS256 string `json:"x5t#S256"`
}

type jwtClaims struct {
	Aud audience `json:"aud"`
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Exp *float64 `json:"exp"`
	Nbf *float64 `json:"nbf"`
}

// audience is a JWT aud claim: one string or a list of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func assertionError(code int, desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, err: "invalid_client", code: code, description: desc}
}

// verifyClientAssertion checks a private_key_jwt client assertion the way Entra does: RSA
// signature (RS* or PS*) by a certificate registered on the app, issuer and subject equal to
// the client id, audience equal to the token endpoint, and the time window.
func verifyClientAssertion(jwt string, app *App, audiences []string, now time.Time) *oauthError {
	malformed := &oauthError{status: http.StatusBadRequest, err: "invalid_request", code: 50027,
		description: "JWT token is invalid or malformed."}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return malformed
	}
	var hdr jwtHeader
	var claims jwtClaims
	if decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &claims) != nil {
		return malformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return malformed
	}

	var hash crypto.Hash
	switch hdr.Alg {
	case "RS256", "PS256":
		hash = crypto.SHA256
	case "RS384", "PS384":
		hash = crypto.SHA384
	case "RS512", "PS512":
		hash = crypto.SHA512
	default:
		return assertionError(700027, "Client assertion failed signature validation. The signing algorithm '"+hdr.Alg+"' is not supported.")
	}
	pss := strings.HasPrefix(hdr.Alg, "PS")
	h := hash.New()
	h.Write([]byte(parts[0] + "." + parts[1]))
	digest := h.Sum(nil)

	verified := false
	for _, cert := range candidateCerts(app.Certificates, hdr) {
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			continue
		}
		if pss {
			err = rsa.VerifyPSS(pub, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		} else {
			err = rsa.VerifyPKCS1v15(pub, hash, digest, sig)
		}
		if err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return assertionError(700027, "Client assertion failed signature validation. No certificate registered on application '"+app.ClientID+"' verifies it.")
	}
	if !strings.EqualFold(claims.Iss, app.ClientID) || !strings.EqualFold(claims.Sub, app.ClientID) {
		return assertionError(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
	}
	audOK := false
	for _, a := range claims.Aud {
		for _, want := range audiences {
			if strings.EqualFold(a, want) {
				audOK = true
			}
		}
	}
	if !audOK {
		return assertionError(700016, "Client assertion audience claim does not match the token endpoint of the tenant.")
	}
	if claims.Exp == nil || now.After(time.Unix(int64(*claims.Exp), 0).Add(assertionSkew)) ||
		(claims.Nbf != nil && now.Add(assertionSkew).Before(time.Unix(int64(*claims.Nbf), 0))) {
		return assertionError(700024, "Client assertion is not within its valid time range.")
	}
	return nil
}

// candidateCerts narrows the app's certificates by the thumbprint in the JWT header, if any.
// MSAL writes x5t#S256 in standard base64; RFC 7515 says base64url: both are accepted.
func candidateCerts(certs []*x509.Certificate, hdr jwtHeader) []*x509.Certificate {
	if hdr.X5t == "" && hdr.X5tS256 == "" {
		return certs
	}
	var out []*x509.Certificate
	for _, c := range certs {
		s1 := sha1.Sum(c.Raw) //nolint:gosec // see import
		s256 := sha256.Sum256(c.Raw)
		if (hdr.X5t != "" && thumbprintMatches(hdr.X5t, s1[:])) || (hdr.X5tS256 != "" && thumbprintMatches(hdr.X5tS256, s256[:])) {
			out = append(out, c)
		}
	}
	return out
}

func thumbprintMatches(enc string, want []byte) bool {
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(enc); err == nil && bytes.Equal(b, want) {
			return true
		}
	}
	return false
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
