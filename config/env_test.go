package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// env turns a map into a lookupEnv function, so tests never touch the process environment.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "headwater.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPrecedence(t *testing.T) {
	path := writeFile(t, `
httpAddr: 0.0.0.0:8000
ldapAddr: 0.0.0.0:389
dataDir: /var/lib/headwater
etcd:
  endpoints: [http://file:2379]
  prefix: /from-file/
log:
  level: debug
`)
	c, err := Load(path, env(map[string]string{
		"HEADWATER_HTTP_ADDR":      "127.0.0.1:0",
		"HEADWATER_ETCD_ENDPOINTS": "http://env1:2379, https://env2:2379",
		"HEADWATER_LOG_LEVEL":      "warn",
		"HEADWATER_ADMIN_TOKEN":    "0123456789abcdef0123",
		"UNRELATED":                "x",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"env beats file", c.HTTPAddr, "127.0.0.1:0"},
		{"file beats default", c.LDAPAddr, "0.0.0.0:389"},
		{"file only", c.DataDir, "/var/lib/headwater"},
		{"env list", c.Etcd.Endpoints, []string{"http://env1:2379", "https://env2:2379"}},
		{"file nested", c.Etcd.Prefix, "/from-file/"},
		{"env nested", c.Log.Level, "warn"},
		{"env only", c.AdminToken, "0123456789abcdef0123"},
		{"default", c.BaseDN, "dc=example,dc=com"},
		{"derived from file", c.SecretKeyPath(), "/var/lib/headwater/secret.key"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestApplyEnvEveryVariable(t *testing.T) {
	vals := map[string]string{}
	for _, name := range EnvVars() {
		vals[name] = "v-" + name
	}
	vals["HEADWATER_ETCD_ENDPOINTS"] = "http://e:2379"
	c := Default()
	if err := c.ApplyEnv(env(vals)); err != nil {
		t.Fatal(err)
	}
	got := []string{c.HTTPAddr, c.LDAPAddr, c.LDAPSAddr, c.Agent.Addr, c.DataDir, c.BaseDN, c.PublicURL,
		c.AdminPassword, c.AdminToken, c.SecretKeyFile, strings.Join(c.Etcd.Endpoints, ","),
		c.Etcd.Username, c.Etcd.Password, c.Log.Level, c.Log.Format}
	want := []string{}
	for _, name := range EnvVars() {
		want = append(want, vals[name])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ApplyEnv set\n%v\nwant\n%v", got, want)
	}
}

func TestApplyEnvEmptyValues(t *testing.T) {
	path := writeFile(t, "ldapsAddr: :636\ntls:\n  selfSigned: true\netcd:\n  endpoints: [http://a:2379]\n")
	c, err := Load(path, env(map[string]string{
		"HEADWATER_LDAPS_ADDR":     "",
		"HEADWATER_ETCD_ENDPOINTS": " ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.LDAPSAddr != "" || !c.EmbeddedEtcd() {
		t.Errorf("empty variables did not override: ldapsAddr %q, endpoints %v", c.LDAPSAddr, c.Etcd.Endpoints)
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantKey string
	}{
		{"http addr", map[string]string{"HEADWATER_HTTP_ADDR": "nope"}, "HEADWATER_HTTP_ADDR (httpAddr)"},
		{"empty required", map[string]string{"HEADWATER_DATA_DIR": ""}, "HEADWATER_DATA_DIR (dataDir)"},
		{"base dn", map[string]string{"HEADWATER_BASE_DN": "not a dn"}, "HEADWATER_BASE_DN (baseDN)"},
		{"token", map[string]string{"HEADWATER_ADMIN_TOKEN": "short"}, "HEADWATER_ADMIN_TOKEN (adminToken)"},
		{"endpoint entry", map[string]string{"HEADWATER_ETCD_ENDPOINTS": "http://a:2379,b"}, "HEADWATER_ETCD_ENDPOINTS (etcd.endpoints[1])"},
		{"endpoint empty entry", map[string]string{"HEADWATER_ETCD_ENDPOINTS": "http://a:2379,,http://b:2379"}, "HEADWATER_ETCD_ENDPOINTS (etcd.endpoints)"},
		{"log level", map[string]string{"HEADWATER_LOG_LEVEL": "loud"}, "HEADWATER_LOG_LEVEL (log.level)"},
		{"etcd username", map[string]string{"HEADWATER_ETCD_USERNAME": "u"}, "etcd.password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", env(tc.vars))
			if keys := errorKeys(err); len(keys) != 1 || keys[0] != tc.wantKey {
				t.Errorf("error keys %v, want [%s] (err: %v)", keys, tc.wantKey, err)
			}
		})
	}
	// A value from the file keeps its YAML key even when another value came from the environment.
	path := writeFile(t, "httpAddr: bad\n")
	_, err := Load(path, env(map[string]string{"HEADWATER_LDAP_ADDR": "also-bad"}))
	keys := errorKeys(err)
	if !reflect.DeepEqual(keys, []string{"httpAddr", "HEADWATER_LDAP_ADDR (ldapAddr)"}) {
		t.Errorf("error keys %v", keys)
	}
}

func TestApplyEnvDoesNotLeakIntoCopies(t *testing.T) {
	a := Default()
	a.ApplyEnv(env(map[string]string{"HEADWATER_HTTP_ADDR": "x"}))
	b := a
	b.ApplyEnv(env(map[string]string{"HEADWATER_LDAP_ADDR": "y"}))
	a.LDAPAddr = "y" // invalid, but set in a, where it did not come from the environment
	if keys := errorKeys(a.Validate()); !contains(keys, "ldapAddr") {
		t.Errorf("copy's environment leaked back: keys %v", keys)
	}
}
