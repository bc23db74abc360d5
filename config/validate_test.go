package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateEachKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantKey string
		want    string // substring of the reason
	}{
		{"httpAddr empty", func(c *Config) { c.HTTPAddr = "" }, "httpAddr", "e.g. 127.0.0.1:8080"},
		{"httpAddr no port", func(c *Config) { c.HTTPAddr = "localhost" }, "httpAddr", "must be host:port, e.g. 127.0.0.1:8080"},
		{"httpAddr port too big", func(c *Config) { c.HTTPAddr = ":65536" }, "httpAddr", "0 to 65535"},
		{"httpAddr named port", func(c *Config) { c.HTTPAddr = ":http" }, "httpAddr", "must be a number"},
		{"ldapAddr bad", func(c *Config) { c.LDAPAddr = "ldap.example.com" }, "ldapAddr", "e.g. 127.0.0.1:3389"},
		{"ldapAddr bare ipv6", func(c *Config) { c.LDAPAddr = "::1:389" }, "ldapAddr", "[::1]:3389"},
		{"ldapAddr same as http", func(c *Config) { c.LDAPAddr = c.HTTPAddr }, "ldapAddr", "same address"},
		{"ldapsAddr bad", func(c *Config) { c.LDAPSAddr = "636"; c.TLS.SelfSigned = true }, "ldapsAddr", "host:port"},
		{"ldapsAddr without cert", func(c *Config) { c.LDAPSAddr = ":636" }, "ldapsAddr", "needs a certificate"},
		{"dataDir empty", func(c *Config) { c.DataDir = "" }, "dataDir", "must not be empty"},
		{"baseDN empty", func(c *Config) { c.BaseDN = "" }, "baseDN", "must not be empty"},
		{"baseDN invalid", func(c *Config) { c.BaseDN = "example.com" }, "baseDN", "dc=example,dc=com"},
		{"publicURL relative", func(c *Config) { c.PublicURL = "/sso" }, "publicURL", "absolute http(s) URL"},
		{"publicURL scheme", func(c *Config) { c.PublicURL = "ftp://id.example.com" }, "publicURL", "absolute http(s) URL"},
		{"publicURL no host", func(c *Config) { c.PublicURL = "https://" }, "publicURL", "absolute http(s) URL"},
		{"publicURL query", func(c *Config) { c.PublicURL = "https://id.example.com/?x=1" }, "publicURL", "query"},
		{"publicURL userinfo", func(c *Config) { c.PublicURL = "https://a:b@id.example.com" }, "publicURL", "user name"},
		{"adminToken short", func(c *Config) { c.AdminToken = "short" }, "adminToken", "at least 16"},
		{"secretKeyFile blank", func(c *Config) { c.SecretKeyFile = "  " }, "secretKeyFile", "blank"},
		{"endpoint no scheme", func(c *Config) { c.Etcd.Endpoints = []string{"10.0.0.1:2379"} }, "etcd.endpoints[0]", "http(s)://host:port"},
		{"endpoint no port", func(c *Config) { c.Etcd.Endpoints = []string{"http://a:1", "http://b"} }, "etcd.endpoints[1]", "port is required"},
		{"endpoint port 0", func(c *Config) { c.Etcd.Endpoints = []string{"http://a:0"} }, "etcd.endpoints[0]", "1 to 65535"},
		{"endpoint path", func(c *Config) { c.Etcd.Endpoints = []string{"http://a:2379/v3"} }, "etcd.endpoints[0]", "no path"},
		{"endpoint credentials", func(c *Config) { c.Etcd.Endpoints = []string{"http://u:p@a:2379"} }, "etcd.endpoints[0]", "etcd.username"},
		{"endpoint empty", func(c *Config) { c.Etcd.Endpoints = []string{""} }, "etcd.endpoints[0]", "http(s)://host:port"},
		{"prefix no leading slash", func(c *Config) { c.Etcd.Prefix = "headwater/" }, "etcd.prefix", "start and end"},
		{"prefix no trailing slash", func(c *Config) { c.Etcd.Prefix = "/headwater" }, "etcd.prefix", "start and end"},
		{"prefix empty", func(c *Config) { c.Etcd.Prefix = "" }, "etcd.prefix", "start and end"},
		{"dialTimeout zero", func(c *Config) { c.Etcd.DialTimeout = 0 }, "etcd.dialTimeout", "positive"},
		{"requestTimeout negative", func(c *Config) { c.Etcd.RequestTimeout = -1 }, "etcd.requestTimeout", "positive"},
		{"etcd cert without key", func(c *Config) { c.Etcd.CertFile = "c.pem" }, "etcd.certFile", "together"},
		{"etcd username without password", func(c *Config) { c.Etcd.Username = "u" }, "etcd.password", "must be set"},
		{"etcd password without username", func(c *Config) { c.Etcd.Password = "p" }, "etcd.username", "must be set"},
		{"quota too small", func(c *Config) { c.Etcd.QuotaBytes = 1 << 20 }, "etcd.quotaBytes", "between"},
		{"quota too big", func(c *Config) { c.Etcd.QuotaBytes = 17 << 30 }, "etcd.quotaBytes", "between"},
		{"compaction negative", func(c *Config) { c.Etcd.CompactionRetention = Duration(-time.Hour) }, "etcd.compactionRetention", "negative"},
		{"defrag negative", func(c *Config) { c.Etcd.DefragInterval = -1 }, "etcd.defragInterval", "negative"},
		{"snapshotCount zero", func(c *Config) { c.Etcd.SnapshotCount = 0 }, "etcd.snapshotCount", "at least 1"},
		{"tls cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "tls.certFile", "together"},
		{"tls cert and self-signed", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile, c.TLS.SelfSigned = "c", "k", true }, "tls.selfSigned", "not both"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", "debug, info, warn, error"},
		{"log level case", func(c *Config) { c.Log.Level = "INFO" }, "log.level", "debug, info, warn, error"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", "text or json"},
		{"minLength below 8", func(c *Config) { c.PasswordPolicy.MinLength = 7 }, "passwordPolicy.minLength", "at least 8"},
		{"maxLength below min", func(c *Config) { c.PasswordPolicy.MaxLength = 9 }, "passwordPolicy.maxLength", "at least minLength (10)"},
		{"maxLength huge", func(c *Config) { c.PasswordPolicy.MaxLength = 1 << 20 }, "passwordPolicy.maxLength", "at most 4096"},
		{"minClasses zero", func(c *Config) { c.PasswordPolicy.MinClasses = 0 }, "passwordPolicy.minClasses", "1 to 4"},
		{"minClasses five", func(c *Config) { c.PasswordPolicy.MinClasses = 5 }, "passwordPolicy.minClasses", "1 to 4"},
		{"accountFree negative", func(c *Config) { c.Limiter.AccountFree = -1 }, "limiter.accountFree", "0 or more"},
		{"addrFree negative", func(c *Config) { c.Limiter.AddrFree = -1 }, "limiter.addrFree", "0 or more"},
		{"limiter base zero", func(c *Config) { c.Limiter.Base = 0 }, "limiter.base", "positive"},
		{"limiter max below base", func(c *Config) { c.Limiter.Max = Duration(time.Millisecond) }, "limiter.max", "at least limiter.base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v, want an *Error", err)
			}
			keys := errorKeys(err)
			if len(keys) != 1 || keys[0] != tc.wantKey {
				t.Fatalf("error keys %v, want [%s] (err: %v)", keys, tc.wantKey, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "config: "+tc.wantKey+": ") {
				t.Errorf("error %q is not in the form \"config: <key>: <reason>\"", err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"port zero everywhere", func(c *Config) { c.HTTPAddr, c.LDAPAddr = "127.0.0.1:0", "127.0.0.1:0" }},
		{"empty host", func(c *Config) { c.HTTPAddr = ":8080" }},
		{"ipv6", func(c *Config) { c.LDAPAddr = "[::1]:389" }},
		{"ldaps self-signed", func(c *Config) { c.LDAPSAddr = ":636"; c.TLS.SelfSigned = true }},
		{"ldaps with cert", func(c *Config) { c.LDAPSAddr = ":636"; c.TLS.CertFile, c.TLS.KeyFile = "c", "k" }},
		{"publicURL with path", func(c *Config) { c.PublicURL = "https://id.example.com/headwater/" }},
		{"external etcd", func(c *Config) {
			c.Etcd.Endpoints = []string{"http://10.0.0.1:2379", "https://etcd.example.com:2379/"}
			c.Etcd.Username, c.Etcd.Password = "hw", "pw"
			c.Etcd.CAFile, c.Etcd.CertFile, c.Etcd.KeyFile = "ca", "c", "k"
		}},
		{"zero compaction and defrag", func(c *Config) { c.Etcd.CompactionRetention, c.Etcd.DefragInterval = 0, 0 }},
		{"quota bounds", func(c *Config) { c.Etcd.QuotaBytes = 64 << 20 }},
		{"prefix slash", func(c *Config) { c.Etcd.Prefix = "/" }},
		{"token 16", func(c *Config) { c.AdminToken = strings.Repeat("t", 16) }},
		{"no delays free", func(c *Config) { c.Limiter.AccountFree, c.Limiter.AddrFree = 0, 0 }},
		{"multi-valued RDN DN", func(c *Config) { c.BaseDN = "o=Example+c=US" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.HTTPAddr = "x"
	c.Etcd.Prefix = "x"
	c.Log.Format = "x"
	keys := errorKeys(c.Validate())
	if len(keys) != 3 {
		t.Errorf("error keys %v, want three", keys)
	}
}

func TestValidateNeverQuotesSecrets(t *testing.T) {
	c := Default()
	c.AdminToken = "sh0rt-secret"
	c.Etcd.Endpoints = []string{"http://user:pa55word@[bad"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad values")
	}
	for _, s := range []string{"sh0rt-secret", "pa55word"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}
