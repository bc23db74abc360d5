package config

import (
	"maps"
	"strings"
)

// envVar ties an environment variable to the setting it overrides.
type envVar struct {
	name string
	key  string // dotted YAML key
	set  func(c *Config, v string) error
}

func setString(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = v
		return nil
	}
}

// envVars lists every override. A variable that is set wins over the file even when empty, so
// HEADWATER_LDAPS_ADDR= turns LDAPS off and HEADWATER_ETCD_ENDPOINTS= selects embedded etcd.
// A function rather than a package variable, so no caller can change the table for another.
func envVars() []envVar {
	return []envVar{
		{"HEADWATER_HTTP_ADDR", "httpAddr", setString(func(c *Config) *string { return &c.HTTPAddr })},
		{"HEADWATER_LDAP_ADDR", "ldapAddr", setString(func(c *Config) *string { return &c.LDAPAddr })},
		{"HEADWATER_LDAPS_ADDR", "ldapsAddr", setString(func(c *Config) *string { return &c.LDAPSAddr })},
		{"HEADWATER_AGENT_ADDR", "agent.addr", setString(func(c *Config) *string { return &c.Agent.Addr })},
		{"HEADWATER_DATA_DIR", "dataDir", setString(func(c *Config) *string { return &c.DataDir })},
		{"HEADWATER_BASE_DN", "baseDN", setString(func(c *Config) *string { return &c.BaseDN })},
		{"HEADWATER_PUBLIC_URL", "publicURL", setString(func(c *Config) *string { return &c.PublicURL })},
		{"HEADWATER_ADMIN_PASSWORD", "adminPassword", setString(func(c *Config) *string { return &c.AdminPassword })},
		{"HEADWATER_ADMIN_TOKEN", "adminToken", setString(func(c *Config) *string { return &c.AdminToken })},
		{"HEADWATER_SECRET_KEY_FILE", "secretKeyFile", setString(func(c *Config) *string { return &c.SecretKeyFile })},
		{"HEADWATER_ETCD_ENDPOINTS", "etcd.endpoints", setEndpoints},
		{"HEADWATER_ETCD_USERNAME", "etcd.username", setString(func(c *Config) *string { return &c.Etcd.Username })},
		{"HEADWATER_ETCD_PASSWORD", "etcd.password", setString(func(c *Config) *string { return &c.Etcd.Password })},
		{"HEADWATER_LOG_LEVEL", "log.level", setString(func(c *Config) *string { return &c.Log.Level })},
		{"HEADWATER_LOG_FORMAT", "log.format", setString(func(c *Config) *string { return &c.Log.Format })},
	}
}

// EnvVars returns the names of the environment variables ApplyEnv reads, for help text.
func EnvVars() []string {
	vars := envVars()
	names := make([]string, len(vars))
	for i, e := range vars {
		names[i] = e.name
	}
	return names
}

// setEndpoints splits a comma-separated list. Blank space around entries is dropped, but an
// empty entry ("a,,b") is an error: it is more likely a mistake than a wish.
func setEndpoints(c *Config, v string) error {
	if strings.TrimSpace(v) == "" {
		c.Etcd.Endpoints = nil
		return nil
	}
	parts := strings.Split(v, ",")
	eps := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return &Error{Key: "HEADWATER_ETCD_ENDPOINTS (etcd.endpoints)", Reason: "has an empty entry; give comma-separated URLs, e.g. http://10.0.0.1:2379,http://10.0.0.2:2379"}
		}
		eps = append(eps, p)
	}
	c.Etcd.Endpoints = eps
	return nil
}

// ApplyEnv overrides settings from the HEADWATER_* variables that lookupEnv reports as set
// (nil means none). It remembers which settings came from the environment so that Validate
// names the variable to fix rather than a file key the user never wrote. Every override is
// applied even when one fails; the errors are *Error values joined together.
func (c *Config) ApplyEnv(lookupEnv func(string) (string, bool)) error {
	if lookupEnv == nil {
		return nil
	}
	var errs []error
	from := maps.Clone(c.fromEnv)
	for _, e := range envVars() {
		v, ok := lookupEnv(e.name)
		if !ok {
			continue
		}
		if err := e.set(c, v); err != nil {
			errs = append(errs, err)
			continue
		}
		if from == nil {
			from = make(map[string]string)
		}
		from[e.key] = e.name
	}
	c.fromEnv = from
	return joinErrors(errs)
}
