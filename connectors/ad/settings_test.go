package ad

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headwater/headwater/connectors"
)

// Settings are checked without a DC: these cases need none.
func TestValidate(t *testing.T) {
	caPEM, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]any{
		"url": "ldaps://dc1.example.com", "bindDN": "CN=svc-headwater,OU=Service,DC=example,DC=com",
		"baseDN": "DC=example,DC=com", "userOU": "OU=Staff,DC=example,DC=com",
	}
	secrets := map[string]string{SecretBindPassword: "pw"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name     string
		settings map[string]any
		secrets  map[string]string
		wantErr  string // empty: valid
	}{
		{"ldaps", base, secrets, ""},
		{"ldap with StartTLS", with("url", "ldap://dc1.example.com", "startTLS", true), secrets, ""},
		{"plain ldap refused", with("url", "ldap://dc1.example.com:389"), secrets, `set "startTLS": true`},
		{"ldaps with StartTLS", with("startTLS", true), secrets, "drop startTLS"},
		{"other scheme", with("url", "https://dc1.example.com"), secrets, "ldaps://"},
		{"url with a path", with("url", "ldaps://dc1.example.com/DC=example,DC=com"), secrets, "only scheme://host"},
		{"no url", with("url", nil), secrets, `"url"`},
		{"CA as PEM", with("caPEM", string(caPEM)), secrets, ""},
		{"CA file", with("caFile", dc.CAFile), secrets, ""},
		{"CA twice", with("caPEM", string(caPEM), "caFile", dc.CAFile), secrets, "both set"},
		{"CA file missing", with("caFile", filepath.Join(t.TempDir(), "none.pem")), secrets, "cannot be read"},
		{"CA not PEM", with("caPEM", "hello"), secrets, "no PEM certificate"},
		{"bind as UPN", with("bindDN", "svc-headwater@example.com"), secrets, ""},
		{"bind name neither", with("bindDN", "svc-headwater"), secrets, "neither a DN"},
		{"baseDN not a domain root", with("baseDN", "OU=Staff,DC=example,DC=com"), secrets, "domain's root"},
		{"userOU outside baseDN", with("userOU", "OU=Staff,DC=other,DC=com"), secrets, "not inside baseDN"},
		{"importOU outside baseDN", with("importOUs", []string{"OU=X,DC=other,DC=com"}), secrets, "importOUs[0]"},
		{"bad upnSuffix", with("upnSuffix", "not a domain"), secrets, "upnSuffix"},
		{"unknown setting", with("insecure", true), secrets, "not valid JSON"},
		{"no password", base, map[string]string{}, SecretBindPassword},
		{"unknown secret", base, map[string]string{SecretBindPassword: "pw", "password": "x"}, `"password" is not known`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(raw, tc.secrets)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("Validate accepted %s", raw)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("Validate: %v; want a message with %q", err, tc.wantErr)
			}
		})
	}
	if err := Validate(json.RawMessage(`{"url":"ldap://dc1.example.com","bindDN":"a@b.c","baseDN":"DC=b,DC=c","userOU":"OU=x,DC=b,DC=c"}`), secrets); err != nil {
		t.Logf("plain LDAP refused with: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	raw := json.RawMessage(`{"url":"ldaps://dc1.example.com","bindDN":"a@example.com","baseDN":"DC=Example,DC=com","userOU":"OU=Staff,DC=example,DC=com",
		"importOUs":["OU=Staff,DC=example,DC=com","OU=Team,OU=Staff,DC=example,DC=com","OU=Other,DC=example,DC=com","ou=other,dc=example,dc=com"]}`)
	cfg, err := parseConfig(raw, map[string]string{SecretBindPassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.url.Host != "dc1.example.com:636" {
		t.Errorf("host %q, want the LDAPS port added", cfg.url.Host)
	}
	if cfg.upnSuffix != "example.com" {
		t.Errorf("upnSuffix %q, want example.com from baseDN", cfg.upnSuffix)
	}
	// Nested and repeated OUs would list accounts twice.
	if len(cfg.importOUs) != 2 {
		t.Errorf("importOUs %v, want OU=Staff and OU=Other once each", cfg.importOUs)
	}
}

// StartTLS on port 389 works against the DC, and Test passes with it.
func TestStartTLS(t *testing.T) {
	c := newConn(t, func(s *Settings) { s.URL, s.StartTLS = dc.LDAPURL, true })
	if err := c.Test(t.Context()); err != nil {
		t.Fatalf("Test over ldap:// with StartTLS: %v", err)
	}
	a := create(t, c, desired())
	if err := c.SetPassword(t.Context(), a.ID, goodPassword()); err != nil {
		t.Errorf("SetPassword over StartTLS: %v", err)
	}
}

// Test reports settings that do not match the domain in words.
func TestTestReportsSettings(t *testing.T) {
	c := newConn(t, func(s *Settings) { s.UserOU = "OU=Missing," + dc.BaseDN })
	err := c.Test(t.Context())
	if err == nil || !strings.Contains(err.Error(), "OU=Missing") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Test with a missing userOU: %v", err)
	}
	c = newConn(t, func(s *Settings) { s.BaseDN, s.UserOU = "DC=other,DC=test", "OU=Headwater,DC=other,DC=test" })
	err = c.Test(t.Context())
	if connectors.KindOf(err) != connectors.KindRejected || !strings.Contains(err.Error(), "not a domain this DC serves") {
		t.Errorf("Test with another domain's baseDN: %v", err)
	}
}
