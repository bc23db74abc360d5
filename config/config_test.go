package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestDefaultMatchesContract pins the defaults promised in docs/CONTRACT.md and the config spec.
func TestDefaultMatchesContract(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"httpAddr", c.HTTPAddr, "127.0.0.1:8080"},
		{"ldapAddr", c.LDAPAddr, "127.0.0.1:3389"},
		{"ldapsAddr", c.LDAPSAddr, ""},
		{"dataDir", c.DataDir, "./headwater-data"},
		{"baseDN", c.BaseDN, "dc=example,dc=com"},
		{"publicURL", c.PublicURL, ""},
		{"secretKeyPath", c.SecretKeyPath(), filepath.Join("headwater-data", "secret.key")},
		{"etcd.endpoints", len(c.Etcd.Endpoints), 0},
		{"embedded", c.EmbeddedEtcd(), true},
		{"etcd.prefix", c.Etcd.Prefix, "/headwater/"},
		{"etcd.dialTimeout", c.Etcd.DialTimeout.D(), 5 * time.Second},
		{"etcd.requestTimeout", c.Etcd.RequestTimeout.D(), 5 * time.Second},
		{"etcd.quotaBytes", c.Etcd.QuotaBytes, int64(8 << 30)},
		{"etcd.compactionRetention", c.Etcd.CompactionRetention.D(), time.Hour},
		{"etcd.defragInterval", c.Etcd.DefragInterval.D(), 24 * time.Hour},
		{"etcd.snapshotCount", c.Etcd.SnapshotCount, uint64(2500)},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"passwordPolicy.minLength", c.PasswordPolicy.MinLength, 10},
		{"passwordPolicy.maxLength", c.PasswordPolicy.MaxLength, 256},
		{"passwordPolicy.minClasses", c.PasswordPolicy.MinClasses, 3},
		{"passwordPolicy.rejectCommon", c.PasswordPolicy.RejectCommon, true},
		{"limiter.accountFree", c.Limiter.AccountFree, 5},
		{"limiter.addrFree", c.Limiter.AddrFree, 20},
		{"limiter.base", c.Limiter.Base.D(), time.Second},
		{"limiter.max", c.Limiter.Max.D(), 15 * time.Minute},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("default %s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// Load with nothing must be exactly the defaults: `headwater serve` with no config.
	loaded, err := Load("", nil)
	if err != nil || !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load(\"\", nil) = %+v, %v; want defaults", loaded, err)
	}
}

func TestParseOverDefaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yaml  string
		check func(Config) bool
	}{
		{"empty", "", func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{"only comments", "# nothing here\n", func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{"null document", "~\n", func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{"empty section keeps defaults", "etcd:\n", func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{"top-level key", "httpAddr: 0.0.0.0:9000\n", func(c Config) bool {
			return c.HTTPAddr == "0.0.0.0:9000" && c.LDAPAddr == "127.0.0.1:3389"
		}},
		{"partial section keeps sibling defaults", "etcd:\n  prefix: /hw/\n", func(c Config) bool {
			return c.Etcd.Prefix == "/hw/" && c.Etcd.DialTimeout.D() == 5*time.Second && c.Etcd.SnapshotCount == 2500
		}},
		{"explicit false overrides true default", "passwordPolicy:\n  rejectCommon: false\n", func(c Config) bool {
			return !c.PasswordPolicy.RejectCommon && c.PasswordPolicy.MinLength == 10
		}},
		{"durations", "etcd:\n  dialTimeout: 250ms\n  defragInterval: 0\nlimiter:\n  max: 1h30m\n", func(c Config) bool {
			return c.Etcd.DialTimeout.D() == 250*time.Millisecond && c.Etcd.DefragInterval == 0 && c.Limiter.Max.D() == 90*time.Minute
		}},
		{"endpoints flow list", "etcd:\n  endpoints: [http://a:2379, https://b:2379]\n", func(c Config) bool {
			return reflect.DeepEqual(c.Etcd.Endpoints, []string{"http://a:2379", "https://b:2379"}) && !c.EmbeddedEtcd()
		}},
		{"anchors and aliases", "adminPassword: &pw s3cret-pass\netcd:\n  username: hw\n  password: *pw\n", func(c Config) bool {
			return c.Etcd.Password == "s3cret-pass"
		}},
		{"numeric-looking string", "adminToken: 12345678901234567890\n", func(c Config) bool {
			return c.AdminToken == "12345678901234567890"
		}},
		{"quota", "etcd:\n  quotaBytes: 1073741824\n", func(c Config) bool { return c.Etcd.QuotaBytes == 1<<30 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("Parse gave %+v", c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		wantKey string // key of the *Error; empty when the error is not a *Error
		want    string // substring of the message
	}{
		{"unknown top-level key", "httpAddr: :80\nhttpAdress: :81\n", "httpAdress", "line 2: unknown key"},
		{"unknown nested key", "etcd:\n  prefx: /x/\n", "etcd.prefx", "valid keys here are caFile, certFile"},
		{"wrong case", "HTTPAddr: :80\n", "HTTPAddr", "did you mean httpAddr?"},
		{"duplicate key", "ldapAddr: :1\nldapAddr: :2\n", "ldapAddr", "line 2: already set on line 1"},
		{"string for int", "etcd:\n  quotaBytes: lots\n", "etcd.quotaBytes", "line 2: must be a whole number"},
		{"fraction for int", "passwordPolicy:\n  minLength: 10.5\n", "passwordPolicy.minLength", "line 2: must be a whole number"},
		{"negative for uint", "etcd:\n  snapshotCount: -1\n", "etcd.snapshotCount", "0 or more"},
		{"string for bool", "tls:\n  selfSigned: maybe\n", "tls.selfSigned", "true or false"},
		{"bare number duration", "etcd:\n  dialTimeout: 5\n", "etcd.dialTimeout", "a duration with a unit"},
		{"bad duration", "limiter:\n  base: soon\n", "limiter.base", "line 2: must be a duration"},
		{"list for duration", "limiter:\n  base: [1s]\n", "limiter.base", "must be a duration"},
		{"mapping for string", "httpAddr:\n  host: x\n", "httpAddr", "a single text value"},
		{"scalar for section", "etcd: yes\n", "etcd", "must be a mapping"},
		{"scalar for list", "etcd:\n  endpoints: http://a:2379\n", "etcd.endpoints", "a list"},
		{"merge key", "base: &b\n  prefix: /x/\netcd:\n  <<: *b\n", "", "merge keys"},
		{"syntax error", "httpAddr: :80\n  bad: [\n", "", "line "},
		{"tab indentation", "etcd:\n\tprefix: /x/\n", "", "line "},
		{"list at top", "- httpAddr: :80\n", "", "must be a mapping of settings"},
		{"scalar at top", "hello\n", "", "must be a mapping of settings"},
		{"two documents", "httpAddr: :80\n---\nldapAddr: :81\n", "", "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.wantKey != "" {
				if keys := errorKeys(err); !contains(keys, tc.wantKey) {
					t.Errorf("error keys %v, want %q", keys, tc.wantKey)
				}
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("a: 1\nb: 2\netcd:\n  c: 3\n  dialTimeout: x\n"))
	keys := errorKeys(err)
	want := []string{"a", "b", "etcd.c", "etcd.dialTimeout"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("error keys %v, want %v", keys, want)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30s", 30 * time.Second, false},
		{"1h", time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"250ms", 250 * time.Millisecond, false},
		{"0", 0, false},
		{"-5s", -5 * time.Second, false}, // parses; Validate decides whether negative is allowed
		{"30", 0, true},
		{"", 0, true},
		{"1 h", 0, true},
		{"forever", 0, true},
	} {
		var d Duration
		err := d.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.wantErr || (err == nil && d.D() != tc.want) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, error %v", tc.in, d.D(), err, tc.want, tc.wantErr)
		}
	}
	// Encoding writes what decoding reads, in YAML and JSON, so `config check` output parses.
	c := Default()
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "dialTimeout: 5s") {
		t.Errorf("YAML output does not write durations as text:\n%s", out)
	}
	back, err := Parse(out)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("marshal/Parse round trip = %+v, %v", back, err)
	}
	j, _ := json.Marshal(c.Limiter)
	if !strings.Contains(string(j), `"Max":"15m0s"`) {
		t.Errorf("JSON limiter = %s", j)
	}
}

func TestRedacted(t *testing.T) {
	c := Default()
	c.AdminPassword = "admin-secret"
	c.AdminToken = "token-secret-0123456789"
	c.Etcd.Username = "hw"
	c.Etcd.Password = "etcd-secret"
	c.Etcd.Endpoints = []string{"http://10.0.0.1:2379", "http://u:url-secret@10.0.0.2:2379", "http://[bad"}
	c.PublicURL = "https://u:pub-secret@id.example.com"

	r := c.Redacted()
	out, _ := yaml.Marshal(r)
	for _, secret := range []string{"admin-secret", "token-secret", "etcd-secret", "url-secret", "pub-secret"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted output contains %q:\n%s", secret, out)
		}
	}
	if r.AdminPassword != "<redacted>" || r.Etcd.Username != "hw" || r.Etcd.Endpoints[0] != "http://10.0.0.1:2379" {
		t.Errorf("Redacted = %+v", r)
	}
	if c.Etcd.Endpoints[1] != "http://u:url-secret@10.0.0.2:2379" || c.AdminPassword != "admin-secret" {
		t.Error("Redacted modified the original")
	}
	// Unset secrets stay empty so the output still tells whether they are set.
	if d := Default().Redacted(); d.AdminPassword != "" || d.AdminToken != "" || d.Etcd.Password != "" {
		t.Errorf("unset secrets shown as set: %+v", d)
	}
}

func TestSecretKeyPath(t *testing.T) {
	c := Default()
	c.DataDir = "/var/lib/headwater"
	if got := c.SecretKeyPath(); got != "/var/lib/headwater/secret.key" {
		t.Errorf("SecretKeyPath = %s", got)
	}
	c.SecretKeyFile = "/etc/headwater/key"
	if got := c.SecretKeyPath(); got != "/etc/headwater/key" {
		t.Errorf("SecretKeyPath = %s", got)
	}
}

// TestExampleFile keeps testdata/example.yaml (linked from the README) valid and complete.
func TestExampleFile(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "example.yaml"), nil)
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if c.HTTPAddr == "" {
		t.Fatal("example.yaml parsed to an empty config")
	}
	// Every key of Config must appear in the example, so new settings get documented.
	data, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	for _, key := range allKeys(reflect.TypeFor[Config](), "") {
		if !hasKey(root.Content[0], strings.Split(key, ".")) {
			t.Errorf("example.yaml does not show %s", key)
		}
	}
}

func allKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := prefix + yamlName(f)
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, allKeys(f.Type, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func hasKey(n *yaml.Node, path []string) bool {
	if len(path) == 0 {
		return true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == path[0] {
			return hasKey(n.Content[i+1], path[1:])
		}
	}
	return false
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing, nil); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want error naming the path", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("httpAddr: :80\nnope: 1\n"), 0o600)
	_, err := Load(bad, nil)
	if err == nil || !strings.Contains(err.Error(), bad) || !contains(errorKeys(err), "nope") {
		t.Errorf("Load(bad) = %v, want error naming the path and key", err)
	}
}

// errorKeys lists the Key of every *Error in err's tree, in order.
func errorKeys(err error) []string {
	var keys []string
	walkErrors(err, func(e error) {
		if ce, ok := e.(*Error); ok {
			keys = append(keys, ce.Key)
		}
	})
	return keys
}

// walkErrors calls fn on every leaf of err's tree (errors without Unwrap).
func walkErrors(err error, fn func(error)) {
	switch u := err.(type) {
	case nil:
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, fn)
		}
	case *Error:
		fn(u)
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), fn)
	default:
		fn(err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
