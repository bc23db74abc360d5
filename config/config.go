// Package config builds Headwater's configuration from built-in defaults, an optional YAML file
// and HEADWATER_* environment variables, in that order of precedence, and checks it.
package config

import (
	"net/url"
	"path/filepath"
	"time"
)

// Config is the whole server configuration. Start from Default (or Parse/Load, which do); a
// zero Config does not validate. YAML keys are the camelCase names in the tags.
type Config struct {
	// HTTPAddr is where SCIM, the admin API, SAML and the portal listen. Env HEADWATER_HTTP_ADDR.
	HTTPAddr string `yaml:"httpAddr"`
	// LDAPAddr is the plain LDAP listener (StartTLS when a certificate is configured).
	// Env HEADWATER_LDAP_ADDR.
	LDAPAddr string `yaml:"ldapAddr"`
	// LDAPSAddr is the LDAPS listener; empty turns it off. Env HEADWATER_LDAPS_ADDR.
	LDAPSAddr string `yaml:"ldapsAddr"`
	// LDAPRequireTLS refuses binds and password changes on plain LDAP
	// connections that have not done StartTLS.
	LDAPRequireTLS bool `yaml:"ldapRequireTLS"`
	// DataDir holds embedded etcd's data and, by default, the sealing key. Env HEADWATER_DATA_DIR.
	DataDir string `yaml:"dataDir"`
	// BaseDN is the root of the LDAP tree. Env HEADWATER_BASE_DN.
	BaseDN string `yaml:"baseDN"`
	// PublicURL is the URL browsers and SAML SPs use; empty means http:// + the bound HTTP
	// address. Env HEADWATER_PUBLIC_URL.
	PublicURL string `yaml:"publicURL"`
	// AdminPassword is the password of the built-in user admin, applied at first start.
	// Env HEADWATER_ADMIN_PASSWORD.
	AdminPassword string `yaml:"adminPassword"`
	// AdminToken is a bearer token with every scope, for bootstrapping and tests.
	// Env HEADWATER_ADMIN_TOKEN.
	AdminToken string `yaml:"adminToken"`
	// SecretKeyFile is the sealing key file; empty means <dataDir>/secret.key (see
	// SecretKeyPath). Env HEADWATER_SECRET_KEY_FILE.
	SecretKeyFile string `yaml:"secretKeyFile"`

	// AuditRetention is how long audit events are kept; 0 keeps them forever.
	AuditRetention Duration `yaml:"auditRetention"`

	// SessionTTL is how long a browser sign-in lasts.
	SessionTTL Duration   `yaml:"sessionTTL"`
	SAML       SAML       `yaml:"saml"`
	Connectors Connectors `yaml:"connectors"`
	Agent      Agent      `yaml:"agent"`

	Etcd           Etcd           `yaml:"etcd"`
	TLS            TLS            `yaml:"tls"`
	Log            Log            `yaml:"log"`
	PasswordPolicy PasswordPolicy `yaml:"passwordPolicy"`
	Limiter        Limiter        `yaml:"limiter"`

	// fromEnv maps the YAML key of every field ApplyEnv set to the variable that set it, so
	// Validate can name the variable the user actually has to fix. Never mutated in place:
	// ApplyEnv replaces it, so copies of a Config never share changes.
	fromEnv map[string]string
}

// Etcd says which etcd holds Headwater's state: an embedded one in DataDir when Endpoints is
// empty, otherwise an external cluster.
type Etcd struct {
	// Endpoints of an external cluster, each http(s)://host:port. Env HEADWATER_ETCD_ENDPOINTS,
	// comma-separated.
	Endpoints []string `yaml:"endpoints"`
	// Prefix is prepended to every key, so several deployments can share a cluster.
	Prefix         string   `yaml:"prefix"`
	DialTimeout    Duration `yaml:"dialTimeout"`
	RequestTimeout Duration `yaml:"requestTimeout"`
	// CAFile, CertFile and KeyFile secure the connection to an external cluster.
	CAFile   string `yaml:"caFile"`
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// Username and Password authenticate to an external cluster. Env HEADWATER_ETCD_USERNAME,
	// HEADWATER_ETCD_PASSWORD.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// QuotaBytes is the embedded backend's size limit.
	QuotaBytes int64 `yaml:"quotaBytes"`
	// CompactionRetention is how much history embedded etcd keeps; 0 turns auto-compaction off.
	CompactionRetention Duration `yaml:"compactionRetention"`
	// DefragInterval is how often Headwater defragments the backend; 0 disables it.
	DefragInterval Duration `yaml:"defragInterval"`
	// SnapshotCount is how many applied entries embedded etcd keeps before a snapshot.
	SnapshotCount uint64 `yaml:"snapshotCount"`
}

// TLS is the certificate for LDAPS and StartTLS (and HTTPS later).
type TLS struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// SelfSigned generates a certificate at start, for development only.
	SelfSigned bool `yaml:"selfSigned"`
	// HTTPS serves the HTTP listener over TLS with this certificate.
	HTTPS bool `yaml:"https"`
}

// SAML configures the identity provider.
type SAML struct {
	// KeyFile and CertFile hold the signing key pair (PEM, RSA); empty means a key made at
	// first start and kept sealed in etcd.
	KeyFile  string `yaml:"keyFile"`
	CertFile string `yaml:"certFile"`
	// AssertionValidity is how long an SP may take to consume an assertion.
	AssertionValidity Duration `yaml:"assertionValidity"`
	// LoginWindow is how long a user may spend signing in before the SP's request expires.
	LoginWindow Duration `yaml:"loginWindow"`
}

// Connectors configures delivery to bound directories.
type Connectors struct {
	// CAFile adds certificate authorities (PEM) that targets' TLS certificates may chain to.
	CAFile string `yaml:"caFile"`
	// Disabled stops this replica from delivering (others still do).
	Disabled bool `yaml:"disabled"`
	// FeedEvery is how often targets' change feeds (Graph delta, AD uSNChanged) are read.
	FeedEvery Duration `yaml:"feedEvery"`
}

// Agent configures the listener the Headwater agents of machines connect to.
type Agent struct {
	// Addr is host:port for agents (mutual TLS with the agent CA); empty turns it off.
	// Env HEADWATER_AGENT_ADDR.
	Addr string `yaml:"addr"`
	// Hosts are extra names for the listener's certificate (the names agents use).
	Hosts []string `yaml:"hosts"`
}

// Log sets up log/slog. Env HEADWATER_LOG_LEVEL, HEADWATER_LOG_FORMAT.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// PasswordPolicy is what a new password must satisfy.
type PasswordPolicy struct {
	MinLength  int `yaml:"minLength"`
	MaxLength  int `yaml:"maxLength"`
	MinClasses int `yaml:"minClasses"` // of lower, upper, digit, other
	// RejectCommon refuses passwords from the common-password list. It is a plain bool because
	// the YAML is decoded over Default(): an absent key keeps true, an explicit false is false.
	RejectCommon bool `yaml:"rejectCommon"`
}

// Limiter slows down password guessing: after the free failures, each further failure doubles
// the delay from Base up to Max.
type Limiter struct {
	AccountFree int      `yaml:"accountFree"` // failures per account before delays start
	AddrFree    int      `yaml:"addrFree"`    // failures per client address before delays start
	Base        Duration `yaml:"base"`
	Max         Duration `yaml:"max"`
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// Default returns the configuration Headwater runs with when given no file and no environment.
func Default() Config {
	return Config{
		HTTPAddr: "127.0.0.1:8080",
		LDAPAddr: "127.0.0.1:3389",
		DataDir:  "./headwater-data",
		BaseDN:   "dc=example,dc=com",
		// A year: long enough for most audits, bounded so the log cannot
		// fill etcd's quota.
		AuditRetention: Duration(365 * 24 * time.Hour),
		SessionTTL:     Duration(8 * time.Hour),
		Connectors:     Connectors{FeedEvery: Duration(time.Minute)},
		SAML:           SAML{AssertionValidity: Duration(5 * time.Minute), LoginWindow: Duration(30 * time.Minute)},
		Etcd: Etcd{
			Prefix:              "/headwater/",
			DialTimeout:         Duration(5 * time.Second),
			RequestTimeout:      Duration(5 * time.Second),
			QuotaBytes:          8 * gib,
			CompactionRetention: Duration(time.Hour),
			DefragInterval:      Duration(24 * time.Hour),
			SnapshotCount:       2500,
		},
		Log: Log{Level: "info", Format: "text"},
		PasswordPolicy: PasswordPolicy{
			MinLength:    10,
			MaxLength:    256,
			MinClasses:   3,
			RejectCommon: true,
		},
		Limiter: Limiter{
			AccountFree: 5,
			AddrFree:    20,
			Base:        Duration(time.Second),
			Max:         Duration(15 * time.Minute),
		},
	}
}

// SecretKeyPath is the sealing key file to load or create.
func (c Config) SecretKeyPath() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, "secret.key")
}

// EmbeddedEtcd reports whether Headwater runs its own etcd rather than using a cluster.
func (c Config) EmbeddedEtcd() bool { return len(c.Etcd.Endpoints) == 0 }

const redacted = "<redacted>"

// Redacted returns a copy safe to log or print: secrets that are set read "<redacted>" (unset
// ones stay empty, so the output still shows whether they are set), and passwords embedded in
// endpoint URLs are masked.
func (c Config) Redacted() Config {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return redacted
	}
	c.AdminPassword = mask(c.AdminPassword)
	c.AdminToken = mask(c.AdminToken)
	c.Etcd.Password = mask(c.Etcd.Password)
	if c.Etcd.Endpoints != nil {
		eps := make([]string, len(c.Etcd.Endpoints))
		for i, ep := range c.Etcd.Endpoints {
			eps[i] = redactURL(ep)
		}
		c.Etcd.Endpoints = eps
	}
	c.PublicURL = redactURL(c.PublicURL)
	return c
}

// redactURL masks a password in a URL's user info. Validate rejects user info, but Redacted is for printing
// configurations that may not validate.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: it might still hold "user:pass@", so show nothing of it.
		if s == "" {
			return ""
		}
		return redacted
	}
	return u.Redacted()
}
