package m365

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// KindName is the name directories of this kind are configured with.
const KindName = "m365"

// Defaults used when a tenant leaves the optional settings out: the global
// Microsoft cloud.
const (
	DefaultAuthorityHost = "https://login.microsoftonline.com"
	DefaultGraphURL      = "https://graph.microsoft.com/v1.0"
)

// Settings are the JSON settings of an m365 directory.
type Settings struct {
	// Tenants are the Entra tenants the directory provisions into. Each
	// user goes to the tenant that has the domain of the user's login among
	// its verified domains.
	Tenants []TenantSettings `json:"tenants"`
	// CAFile trusts an extra certificate authority (PEM) for the identity
	// platform and Graph: emulators, TLS-inspecting proxies.
	CAFile string `json:"caFile,omitempty"`
	// UsageLocation, when set, is given to every user created (a two-letter
	// country code); Microsoft requires one before a license can be
	// assigned, and tenants that assign licenses by group rely on it.
	UsageLocation string `json:"usageLocation,omitempty"`
}

// TenantSettings identify one tenant and the app registration Headwater
// signs in as. The app's credential is a secret of the directory, under
// "<tenantId>.clientSecret" or "<tenantId>.certificate" (PEM certificate
// and unencrypted private key).
type TenantSettings struct {
	TenantID string `json:"tenantId"`
	ClientID string `json:"clientId"`
	// AuthorityHost is the identity platform's origin; empty means
	// DefaultAuthorityHost. National clouds have their own.
	AuthorityHost string `json:"authorityHost,omitempty"`
	// GraphURL is Graph's base URL including the version; empty means
	// DefaultGraphURL.
	GraphURL string `json:"graphURL,omitempty"`
}

// Secret names, as "<tenantId>" + suffix.
const (
	secretClientSecret = ".clientSecret"
	secretCertificate  = ".certificate"
)

// tenantConfig is a validated tenant: settings with defaults applied and the
// credential MSAL signs in with.
type tenantConfig struct {
	TenantSettings
	cred     confidential.Credential
	credName string // the secret's name, for messages
}

// config is the validated form of Settings and secrets.
type config struct {
	tenants       []tenantConfig
	usageLocation string
	caFile        string
}

// Validate checks m365 settings and secrets before they are stored; its
// errors name the setting or secret at fault.
func Validate(settings json.RawMessage, secrets map[string]string) error {
	_, err := parseConfig(settings, secrets)
	return err
}

func settingErr(name, format string, args ...any) error {
	return fmt.Errorf("m365 setting %q: %s", name, fmt.Sprintf(format, args...))
}

// parseConfig decodes and validates settings and secrets. Unknown settings
// and secrets are refused: a misspelt "tenantID" would otherwise fail
// later, far from its cause.
func parseConfig(raw json.RawMessage, secrets map[string]string) (*config, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New(`m365 settings are empty: give at least {"tenants":[{"tenantId":"...","clientId":"..."}]}`)
	}
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("m365 settings are not valid JSON of the expected shape: %w", err)
	}
	if len(s.Tenants) == 0 {
		return nil, settingErr("tenants", "at least one tenant is required")
	}
	cfg := &config{}
	if s.UsageLocation != "" {
		if !isCountryCode(s.UsageLocation) {
			return nil, settingErr("usageLocation", "%q is not a two-letter country code such as \"US\" or \"FR\"", s.UsageLocation)
		}
		cfg.usageLocation = strings.ToUpper(s.UsageLocation)
	}
	if s.CAFile != "" {
		if _, err := os.ReadFile(s.CAFile); err != nil {
			return nil, settingErr("caFile", "%v", err)
		}
		cfg.caFile = s.CAFile
	}
	used := map[string]bool{}
	seen := map[string]bool{}
	for i, ts := range s.Tenants {
		name := func(field string) string { return fmt.Sprintf("tenants[%d].%s", i, field) }
		ts.TenantID = strings.TrimSpace(ts.TenantID)
		ts.ClientID = strings.TrimSpace(ts.ClientID)
		switch id := strings.ToLower(ts.TenantID); {
		case id == "":
			return nil, settingErr(name("tenantId"), "is required: the Directory (tenant) ID of the Entra tenant, a GUID")
		case strings.ContainsAny(id, "/?#:% \t"):
			return nil, settingErr(name("tenantId"), "%q cannot be a tenant id (it contains a character that is not allowed)", ts.TenantID)
		case id == "common" || id == "organizations" || id == "consumers":
			return nil, settingErr(name("tenantId"), "%q is not a tenant: app-only sign-in needs the tenant's own id", ts.TenantID)
		case seen[id]:
			return nil, settingErr(name("tenantId"), "tenant %q is configured twice", ts.TenantID)
		}
		seen[strings.ToLower(ts.TenantID)] = true
		if ts.ClientID == "" {
			return nil, settingErr(name("clientId"), "is required: the Application (client) ID of the app registration Headwater signs in as")
		}
		if ts.AuthorityHost == "" {
			ts.AuthorityHost = DefaultAuthorityHost
		}
		ah, err := httpsURL(ts.AuthorityHost)
		if err != nil {
			return nil, settingErr(name("authorityHost"), "%v", err)
		}
		if p := strings.Trim(ah.Path, "/"); p != "" {
			return nil, settingErr(name("authorityHost"), "%q must be an origin such as %s, without a path (the tenant id is added)", ts.AuthorityHost, DefaultAuthorityHost)
		}
		ts.AuthorityHost = strings.TrimSuffix(ah.String(), "/")
		if ts.GraphURL == "" {
			ts.GraphURL = DefaultGraphURL
		}
		gu, err := httpsURL(ts.GraphURL)
		if err != nil {
			return nil, settingErr(name("graphURL"), "%v", err)
		}
		if gu.RawQuery != "" || gu.Fragment != "" {
			return nil, settingErr(name("graphURL"), "%q must not have a query or fragment", ts.GraphURL)
		}
		ts.GraphURL = strings.TrimSuffix(gu.String(), "/")

		tc := tenantConfig{TenantSettings: ts}
		secretName, cred, err := tenantCredential(ts.TenantID, secrets)
		if err != nil {
			return nil, err
		}
		used[secretName] = true
		tc.cred, tc.credName = cred, secretName
		cfg.tenants = append(cfg.tenants, tc)
	}
	var unknown []string
	for k := range secrets {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("m365 secret %q does not belong to any configured tenant (expected \"<tenantId>%s\" or \"<tenantId>%s\")", unknown[0], secretClientSecret, secretCertificate)
	}
	return cfg, nil
}

// tenantCredential finds the one credential given for a tenant. Secrets are
// looked up without regard to the case of the tenant id, as people copy
// GUIDs in either case.
func tenantCredential(tenantID string, secrets map[string]string) (string, confidential.Credential, error) {
	var secretKey, certKey string
	for k := range secrets {
		switch {
		case strings.EqualFold(k, tenantID+secretClientSecret):
			secretKey = k
		case strings.EqualFold(k, tenantID+secretCertificate):
			certKey = k
		}
	}
	switch {
	case secretKey != "" && certKey != "":
		return "", confidential.Credential{}, fmt.Errorf("m365 secrets %q and %q are both set: give the tenant's app one credential, a client secret or a certificate", secretKey, certKey)
	case secretKey != "":
		v := strings.TrimSpace(secrets[secretKey])
		if v == "" {
			return "", confidential.Credential{}, fmt.Errorf("m365 secret %q is empty: paste the client secret's Value (not its Secret ID)", secretKey)
		}
		cred, err := confidential.NewCredFromSecret(v)
		if err != nil {
			return "", confidential.Credential{}, fmt.Errorf("m365 secret %q: %w", secretKey, err)
		}
		return secretKey, cred, nil
	case certKey != "":
		certs, key, err := confidential.CertFromPEM([]byte(secrets[certKey]), "")
		if err != nil {
			return "", confidential.Credential{}, fmt.Errorf("m365 secret %q must hold a PEM certificate and its unencrypted private key: %w", certKey, err)
		}
		cred, err := confidential.NewCredFromCert(certs, key)
		if err != nil {
			return "", confidential.Credential{}, fmt.Errorf("m365 secret %q: %w", certKey, err)
		}
		return certKey, cred, nil
	}
	return "", confidential.Credential{}, fmt.Errorf("m365 secret %q (or %q) is required: the credential of the app that signs in to tenant %s",
		tenantID+secretClientSecret, tenantID+secretCertificate, tenantID)
}

func httpsURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q must be an absolute https:// URL (tokens are never sent in clear)", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q must not carry a user name or password", s)
	}
	return u, nil
}

func isCountryCode(s string) bool {
	if len(s) != 2 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}
