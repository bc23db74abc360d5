package ad

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// KindName is the name directories of this kind are configured with.
const KindName = "ad"

// Settings are the JSON settings of an ad directory.
type Settings struct {
	// URL is a domain controller: ldaps://dc.example.com (port 636) or
	// ldap://dc.example.com (port 389) with StartTLS. AD sets passwords
	// only over an encrypted connection, so plain LDAP is refused.
	URL      string `json:"url"`
	StartTLS bool   `json:"startTLS,omitempty"`
	// CAFile (a path on the Headwater host) or CAPEM (the PEM text) is the
	// CA bundle the DC's certificate is checked against; neither means the
	// host's trusted roots. An enterprise CA's root usually goes here.
	CAFile string `json:"caFile,omitempty"`
	CAPEM  string `json:"caPEM,omitempty"`
	// BindDN is the account Headwater signs in as, as a DN or as a user
	// principal name (svc-headwater@example.com). Its password is the
	// secret "bindPassword".
	BindDN string `json:"bindDN"`
	// BaseDN is the domain's root (DC=example,DC=com): accounts are looked
	// up and the change feed is read there.
	BaseDN string `json:"baseDN"`
	// UserOU is where new accounts are created.
	UserOU string `json:"userOU"`
	// ImportOUs are where existing accounts are listed for import and
	// followed for changes; empty means UserOU.
	ImportOUs []string `json:"importOUs,omitempty"`
	// UPNSuffix completes logins that have no domain; empty means the
	// domain's DNS name, from BaseDN.
	UPNSuffix string `json:"upnSuffix,omitempty"`
}

// SecretBindPassword is the name of the secret holding BindDN's password.
const SecretBindPassword = "bindPassword"

// config is the validated form of Settings and secrets.
type config struct {
	url       *url.URL
	startTLS  bool
	tls       *tls.Config
	bindDN    string
	password  string
	baseDN    string
	userOU    string
	importOUs []string
	upnSuffix string
}

// Validate checks ad settings and secrets before they are stored; its
// errors name the setting or secret at fault.
func Validate(settings json.RawMessage, secrets map[string]string) error {
	_, err := parseConfig(settings, secrets)
	return err
}

func settingErr(name, format string, args ...any) error {
	return fmt.Errorf("ad setting %q: %s", name, fmt.Sprintf(format, args...))
}

// parseConfig decodes and validates settings and secrets. Unknown settings
// and secrets are refused: a misspelt "baseDn" would otherwise fail later,
// far from its cause.
func parseConfig(raw json.RawMessage, secrets map[string]string) (*config, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, errors.New(`ad settings are empty: give at least {"url":"ldaps://dc.example.com","bindDN":"...","baseDN":"DC=example,DC=com","userOU":"OU=Staff,DC=example,DC=com"}`)
	}
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("ad settings are not valid JSON of the expected shape: %w", err)
	}
	cfg := &config{startTLS: s.StartTLS}

	u, err := parseURL(s.URL, s.StartTLS)
	if err != nil {
		return nil, err
	}
	cfg.url = u
	tc, err := tlsConfig(s, u)
	if err != nil {
		return nil, err
	}
	cfg.tls = tc

	cfg.bindDN = strings.TrimSpace(s.BindDN)
	switch {
	case cfg.bindDN == "":
		return nil, settingErr("bindDN", "is required: the DN (or user principal name) of the account Headwater signs in as")
	case strings.Contains(cfg.bindDN, "="):
		if _, err := ldap.ParseDN(cfg.bindDN); err != nil {
			return nil, settingErr("bindDN", "%q is not a DN: %v", cfg.bindDN, err)
		}
	case !strings.Contains(cfg.bindDN, "@"):
		return nil, settingErr("bindDN", "%q is neither a DN (CN=...,DC=...) nor a user principal name (name@domain)", cfg.bindDN)
	}

	base, err := parseDN("baseDN", s.BaseDN)
	if err != nil {
		return nil, err
	}
	// The DNs are kept as written: they appear in messages, where the
	// administrator should recognise them.
	cfg.baseDN = strings.TrimSpace(s.BaseDN)
	var dcs []string
	for _, rdn := range base.RDNs {
		for _, a := range rdn.Attributes {
			if !strings.EqualFold(a.Type, "DC") {
				return nil, settingErr("baseDN", "%q is not a domain's root (DC=example,DC=com): the change feed reads the whole domain from there", s.BaseDN)
			}
			dcs = append(dcs, a.Value)
		}
	}

	ou, err := parseDN("userOU", s.UserOU)
	if err != nil {
		return nil, err
	}
	if !base.AncestorOfFold(ou) {
		return nil, settingErr("userOU", "%q is not inside baseDN %q", s.UserOU, s.BaseDN)
	}
	cfg.userOU = strings.TrimSpace(s.UserOU)

	var imports []*ldap.DN
	var written []string
	for i, o := range s.ImportOUs {
		name := fmt.Sprintf("importOUs[%d]", i)
		d, err := parseDN(name, o)
		if err != nil {
			return nil, err
		}
		if !base.AncestorOfFold(d) && !base.EqualFold(d) {
			return nil, settingErr(name, "%q is not inside baseDN %q", o, s.BaseDN)
		}
		imports = append(imports, d)
		written = append(written, strings.TrimSpace(o))
	}
	if len(imports) == 0 {
		imports, written = []*ldap.DN{ou}, []string{cfg.userOU}
	}
	// An OU inside another one would list its accounts twice.
	for i, d := range imports {
		nested := false
		for j, other := range imports {
			if i != j && (other.AncestorOfFold(d) || (other.EqualFold(d) && j < i)) {
				nested = true
				break
			}
		}
		if !nested {
			cfg.importOUs = append(cfg.importOUs, written[i])
		}
	}

	cfg.upnSuffix = strings.ToLower(strings.TrimSpace(s.UPNSuffix))
	if cfg.upnSuffix == "" {
		cfg.upnSuffix = strings.ToLower(strings.Join(dcs, "."))
	}
	if !isDNSName(cfg.upnSuffix) {
		return nil, settingErr("upnSuffix", "%q is not a DNS domain name", cfg.upnSuffix)
	}

	for k := range secrets {
		if k != SecretBindPassword {
			keys := make([]string, 0, len(secrets))
			for k := range secrets {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, fmt.Errorf("ad secret %q is not known (the only secret is %q); given: %v", k, SecretBindPassword, keys)
		}
	}
	cfg.password = secrets[SecretBindPassword]
	if cfg.password == "" {
		return nil, fmt.Errorf("ad secret %q is required: the password of bindDN %s", SecretBindPassword, cfg.bindDN)
	}
	return cfg, nil
}

func parseDN(name, s string) (*ldap.DN, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, settingErr(name, "is required")
	}
	d, err := ldap.ParseDN(s)
	if err != nil {
		return nil, settingErr(name, "%q is not a DN: %v", s, err)
	}
	if len(d.RDNs) == 0 {
		return nil, settingErr(name, "%q is an empty DN", s)
	}
	return d, nil
}

// parseURL checks the DC's URL. Plain ldap:// without StartTLS is refused:
// AD refuses unicodePwd over it (and the bind password would travel in
// clear), so nothing a directory exists for would work.
func parseURL(s string, startTLS bool) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, settingErr("url", "is required: the domain controller, as ldaps://dc.example.com or ldap://dc.example.com with \"startTLS\": true")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, settingErr("url", "%q is not a URL: %v", s, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ldaps":
		if startTLS {
			return nil, settingErr("startTLS", "is for ldap:// URLs; %q is encrypted from the start (ldaps://): drop startTLS", s)
		}
	case "ldap":
		if !startTLS {
			return nil, settingErr("url", "%q is plain LDAP: Active Directory sets passwords only over an encrypted connection, and the bind password would cross the network in clear. Use ldaps://%s (port 636), or keep ldap:// and set \"startTLS\": true", s, u.Hostname())
		}
	default:
		return nil, settingErr("url", "%q must start with ldaps:// or ldap://", s)
	}
	if u.Hostname() == "" {
		return nil, settingErr("url", "%q has no host", s)
	}
	if u.User != nil {
		return nil, settingErr("url", "%q must not carry a user name or password (use bindDN and the bindPassword secret)", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, settingErr("url", "%q must be only scheme://host[:port]: the search base is baseDN", s)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Path = ""
	if u.Port() == "" {
		port := "636"
		if u.Scheme == "ldap" {
			port = "389"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}

func tlsConfig(s Settings, u *url.URL) (*tls.Config, error) {
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	var pem []byte
	var name string
	switch {
	case s.CAFile != "" && s.CAPEM != "":
		return nil, settingErr("caFile", "and caPEM are both set: give the CA bundle once, as a file path or as PEM text")
	case s.CAFile != "":
		b, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, settingErr("caFile", "cannot be read: %v", err)
		}
		pem, name = b, "caFile"
	case s.CAPEM != "":
		pem, name = []byte(s.CAPEM), "caPEM"
	default:
		return tc, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, settingErr(name, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	tc.RootCAs = pool
	return tc, nil
}
