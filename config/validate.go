package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Error is one problem with one setting. Key is the dotted YAML key ("etcd.prefix"), or
// "HEADWATER_X (yamlKey)" when the value came from the environment, so the user knows where
// to fix it. Reason says what is wrong and what to write instead; it never quotes a secret.
type Error struct {
	Key    string
	Reason string
}

func (e *Error) Error() string { return "config: " + e.Key + ": " + e.Reason }

// joinErrors is errors.Join, except that a single error comes back as itself so callers
// printing it or comparing types see the *Error directly.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// validator collects problems so Validate reports all of them, not just the first.
type validator struct {
	c    *Config
	errs []error
}

// add records a problem with the setting at dotted key yamlKey; sub is appended to the key
// (for list entries such as "[1]").
func (v *validator) add(yamlKey, sub, reason string, args ...any) {
	key := yamlKey + sub
	if env, ok := v.c.fromEnv[yamlKey]; ok {
		key = env + " (" + key + ")"
	}
	v.errs = append(v.errs, &Error{Key: key, Reason: fmt.Sprintf(reason, args...)})
}

// Validate checks every setting and returns all problems as *Error values (joined with
// errors.Join when there are several), or nil.
func (c Config) Validate() error {
	v := &validator{c: &c}

	v.addr("httpAddr", c.HTTPAddr, "127.0.0.1:8080", true)
	v.addr("ldapAddr", c.LDAPAddr, "127.0.0.1:3389", true)
	v.addr("ldapsAddr", c.LDAPSAddr, "0.0.0.0:636", false)
	v.distinctAddrs()

	if strings.TrimSpace(c.DataDir) == "" {
		v.add("dataDir", "", "must not be empty; give a directory, e.g. ./headwater-data")
	}
	v.baseDN()
	v.publicURL()
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		v.add("adminToken", "", "is %d characters; it must be at least 16, e.g. the output of: openssl rand -hex 32", len(c.AdminToken))
	}
	if c.SecretKeyFile != "" && strings.TrimSpace(c.SecretKeyFile) == "" {
		v.add("secretKeyFile", "", "is only blank space; give a file path or leave it empty for <dataDir>/secret.key")
	}

	v.nonNegative("auditRetention", c.AuditRetention, "8760h")
	v.nonNegative("sessionTTL", c.SessionTTL, "8h")
	v.nonNegative("connectors.feedEvery", c.Connectors.FeedEvery, "1m")
	v.nonNegative("saml.assertionValidity", c.SAML.AssertionValidity, "5m")
	v.nonNegative("saml.loginWindow", c.SAML.LoginWindow, "30m")
	if (c.SAML.KeyFile == "") != (c.SAML.CertFile == "") {
		v.add("saml.keyFile", "", "set saml.keyFile and saml.certFile together, or neither (a key is then generated and kept in etcd)")
	}
	v.etcd()
	v.tls()
	v.log()
	v.passwordPolicy()
	v.limiter()
	return joinErrors(v.errs)
}

// addr checks a listen address: host:port, host may be empty (all interfaces), port 0 picks a
// free port.
func (v *validator) addr(key, value, example string, required bool) {
	if value == "" {
		if required {
			v.add(key, "", "must not be empty; give host:port, e.g. %s", example)
		}
		return
	}
	_, port, err := net.SplitHostPort(value)
	if err != nil {
		if strings.Count(value, ":") > 1 {
			v.add(key, "", "must be host:port with an IPv6 host in brackets, e.g. [::1]:%s", portOf(example))
			return
		}
		v.add(key, "", "must be host:port, e.g. %s", example)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.add(key, "", "port %q must be a number from 0 to 65535 (0 picks a free port), e.g. %s", truncate(port), example)
	}
}

func portOf(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// distinctAddrs catches two listeners configured on the same fixed address, which would
// otherwise only fail at start with "address already in use".
func (v *validator) distinctAddrs() {
	c := v.c
	fixed := func(a string) bool {
		_, p, err := net.SplitHostPort(a)
		return err == nil && p != "0" && p != ""
	}
	if fixed(c.LDAPAddr) && c.LDAPAddr == c.HTTPAddr {
		v.add("ldapAddr", "", "is the same address as httpAddr; give each listener its own port")
	}
	if fixed(c.LDAPSAddr) && (c.LDAPSAddr == c.HTTPAddr || c.LDAPSAddr == c.LDAPAddr) {
		v.add("ldapsAddr", "", "is the same address as another listener; give each listener its own port")
	}
}

func (v *validator) baseDN() {
	if strings.TrimSpace(v.c.BaseDN) == "" {
		v.add("baseDN", "", "must not be empty; give the root of the tree, e.g. dc=example,dc=com")
		return
	}
	dn, err := ldap.ParseDN(v.c.BaseDN)
	if err != nil || len(dn.RDNs) == 0 {
		v.add("baseDN", "", "is not a valid DN; write it like dc=example,dc=com")
	}
}

func (v *validator) publicURL() {
	s := v.c.PublicURL
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		v.add("publicURL", "", "must be an absolute http(s) URL, e.g. https://id.example.com, or empty to use http:// + httpAddr")
	case u.User != nil:
		v.add("publicURL", "", "must not contain a user name or password")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		v.add("publicURL", "", "must not have a query or fragment; give the base URL, e.g. https://id.example.com/headwater")
	}
}

func (v *validator) etcd() {
	e := v.c.Etcd
	for i, ep := range e.Endpoints {
		v.endpoint(i, ep)
	}
	if !strings.HasPrefix(e.Prefix, "/") || !strings.HasSuffix(e.Prefix, "/") {
		v.add("etcd.prefix", "", "must start and end with \"/\", e.g. /headwater/")
	}
	v.positive("etcd.dialTimeout", e.DialTimeout, "5s")
	v.positive("etcd.requestTimeout", e.RequestTimeout, "5s")
	if (e.CertFile == "") != (e.KeyFile == "") {
		v.add("etcd.certFile", "", "and etcd.keyFile must be set together (client certificate and its key)")
	}
	if e.Username != "" && e.Password == "" {
		v.add("etcd.password", "", "must be set when etcd.username is set")
	}
	if e.Password != "" && e.Username == "" {
		v.add("etcd.username", "", "must be set when etcd.password is set")
	}
	if e.QuotaBytes < 64*mib || e.QuotaBytes > 16*gib {
		v.add("etcd.quotaBytes", "", "is %d; it must be between %d (64 MiB) and %d (16 GiB), e.g. %d for 8 GiB", e.QuotaBytes, 64*mib, 16*gib, 8*gib)
	}
	v.nonNegative("etcd.compactionRetention", e.CompactionRetention, "1h; 0 turns auto-compaction off")
	v.nonNegative("etcd.defragInterval", e.DefragInterval, "24h; 0 turns defragmentation off")
	if e.SnapshotCount == 0 {
		v.add("etcd.snapshotCount", "", "must be at least 1, e.g. 2500")
	}
}

// endpoint checks one etcd client URL. The value is not quoted back: it may carry credentials.
func (v *validator) endpoint(i int, ep string) {
	sub := "[" + strconv.Itoa(i) + "]"
	const want = "must be http(s)://host:port, e.g. http://127.0.0.1:2379"
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		v.add("etcd.endpoints", sub, want)
		return
	}
	if u.User != nil {
		v.add("etcd.endpoints", sub, "must not contain credentials; set etcd.username and etcd.password instead")
		return
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		v.add("etcd.endpoints", sub, "%s, with no path or query", want)
		return
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		v.add("etcd.endpoints", sub, "%s (the port is required)", want)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		v.add("etcd.endpoints", sub, "port must be a number from 1 to 65535, e.g. http://127.0.0.1:2379")
	}
}

func (v *validator) positive(key string, d Duration, example string) {
	if d <= 0 {
		v.add(key, "", "must be a positive duration, e.g. %s", example)
	}
}

func (v *validator) nonNegative(key string, d Duration, example string) {
	if d < 0 {
		v.add(key, "", "must not be negative; e.g. %s", example)
	}
}

func (v *validator) tls() {
	t := v.c.TLS
	hasCert := t.CertFile != "" || t.KeyFile != ""
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("tls.certFile", "", "and tls.keyFile must be set together (certificate and its private key)")
	}
	if hasCert && t.SelfSigned {
		v.add("tls.selfSigned", "", "cannot be true when tls.certFile is set; use the certificate or a self-signed one, not both")
	}
	if v.c.LDAPRequireTLS && !hasCert && !t.SelfSigned {
		v.add("ldapRequireTLS", "", "needs a certificate for StartTLS: set tls.certFile and tls.keyFile, or tls.selfSigned: true for development")
	}
	if t.HTTPS && !hasCert && !t.SelfSigned {
		v.add("tls.https", "", "needs a certificate: set tls.certFile and tls.keyFile, or tls.selfSigned: true for development")
	}
	if v.c.LDAPSAddr != "" && !hasCert && !t.SelfSigned {
		v.add("ldapsAddr", "", "needs a certificate: set tls.certFile and tls.keyFile, or tls.selfSigned: true for development, or leave ldapsAddr empty")
	}
}

func (v *validator) log() {
	switch v.c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "", "must be one of debug, info, warn, error")
	}
	switch v.c.Log.Format {
	case "text", "json":
	default:
		v.add("log.format", "", "must be text or json")
	}
}

// maxPasswordLength bounds the work one login attempt can cost the password hash.
const maxPasswordLength = 4096

func (v *validator) passwordPolicy() {
	p := v.c.PasswordPolicy
	if p.MinLength < 8 {
		v.add("passwordPolicy.minLength", "", "is %d; it must be at least 8", p.MinLength)
	}
	if p.MaxLength < p.MinLength || p.MaxLength > maxPasswordLength {
		v.add("passwordPolicy.maxLength", "", "is %d; it must be at least minLength (%d) and at most %d", p.MaxLength, p.MinLength, maxPasswordLength)
	}
	if p.MinClasses < 1 || p.MinClasses > 4 {
		v.add("passwordPolicy.minClasses", "", "is %d; it must be 1 to 4 (classes: lower case, upper case, digits, others)", p.MinClasses)
	}
}

func (v *validator) limiter() {
	l := v.c.Limiter
	if l.AccountFree < 0 {
		v.add("limiter.accountFree", "", "must be 0 or more, e.g. 5")
	}
	if l.AddrFree < 0 {
		v.add("limiter.addrFree", "", "must be 0 or more, e.g. 20")
	}
	v.positive("limiter.base", l.Base, "1s")
	if l.Max < l.Base {
		v.add("limiter.max", "", "is %s; it must be at least limiter.base (%s), e.g. %s", l.Max, l.Base, time.Duration(15*time.Minute))
	}
}
