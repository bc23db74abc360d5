package ad

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/connectors/connectortest"
)

// dc is the Samba domain controller the package's tests share, as
// scripts/samba-ad.sh reports it.
type dcInfo struct {
	LDAPSURL      string `json:"LDAPS_URL"`
	LDAPURL       string `json:"LDAP_URL"`
	Addr          string `json:"ADDR"`
	BaseDN        string `json:"BASE_DN"`
	Realm         string `json:"REALM"`
	AdminDN       string `json:"ADMIN_DN"`
	AdminPassword string `json:"ADMIN_PASSWORD"`
	CAFile        string `json:"CA_FILE"`
	Dir           string `json:"DIR"`
}

var dc dcInfo

// domain is the DC's DNS domain: every test login is in it.
const domain = "headwater.test"

// testOU is where the connector creates accounts in the tests.
func testOU() string { return "OU=Headwater," + dc.BaseDN }

// TestMain provisions one throwaway domain for the package (about 5 s)
// and stops it at the end. Samba's DC runs as root, so these tests do too
// (CI does); elsewhere the script says so and the package fails.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "samba-ad.sh"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "headwater-ad-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// --max-runtime: should this process die before stopping the DC, the
	// DC stops itself within the hour.
	out, err := exec.CommandContext(ctx, script, "start", dir, "--json", "--max-runtime", "3600").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			fmt.Fprintf(os.Stderr, "connectors/ad: these tests run a Samba AD DC and could not start one:\n%s", ee.Stderr)
		} else {
			fmt.Fprintf(os.Stderr, "connectors/ad: running %s: %v\n", script, err)
		}
		return 1
	}
	defer func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "connectors/ad: stopping the DC: %v\n%s", err, out)
		}
	}()
	if err := json.Unmarshal(out, &dc); err != nil {
		fmt.Fprintf(os.Stderr, "connectors/ad: the script's output %q: %v\n", out, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "connectors/ad: Samba DC on %s ready in %s\n", dc.LDAPSURL, time.Since(start).Round(time.Millisecond))
	if err := prepare(); err != nil {
		fmt.Fprintf(os.Stderr, "connectors/ad: preparing the domain: %v\n", err)
		return 1
	}
	return m.Run()
}

// prepare creates the OUs the tests use.
func prepare() error {
	l, err := dialAdmin()
	if err != nil {
		return err
	}
	defer l.Close()
	for _, ou := range []string{testOU(), bulkOU()} {
		req := ldap.NewAddRequest(ou, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		if err := l.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("create %s: %w", ou, err)
		}
	}
	return nil
}

func bulkOU() string { return "OU=Bulk," + dc.BaseDN }

func tlsConf() *tls.Config {
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool}
}

// dialAdmin connects as the domain's Administrator, the way an
// administrator's console would, independently of the connector.
func dialAdmin() (*ldap.Conn, error) {
	l, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(tlsConf()))
	if err != nil {
		return nil, err
	}
	if err := l.Bind(dc.AdminDN, dc.AdminPassword); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func admin(t *testing.T) *ldap.Conn {
	t.Helper()
	l, err := dialAdmin()
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// settings is the connector's configuration on the test DC; change
// adjusts it.
func settings(change func(*Settings)) Settings {
	s := Settings{
		URL:    dc.LDAPSURL,
		CAFile: dc.CAFile,
		BindDN: dc.AdminDN,
		BaseDN: dc.BaseDN,
		UserOU: testOU(),
	}
	if change != nil {
		change(&s)
	}
	return s
}

func connConfig(s Settings, password string) connectors.Config {
	raw, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return connectors.Config{Directory: "ad-test", Settings: raw, Secrets: map[string]string{SecretBindPassword: password}}
}

// newConn builds a connector on the test DC, closed when the test ends.
func newConn(t *testing.T, change func(*Settings)) *Conn {
	t.Helper()
	c, err := New(t.Context(), connConfig(settings(change), dc.AdminPassword))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func unique() string { return strings.ToLower(rand.Text()[:8]) }

func desired() connectors.Desired {
	u := unique()
	return connectors.Desired{
		UserID:      "hw-" + u,
		Login:       "u." + u + "@" + domain,
		Email:       "mail." + u + "@" + domain,
		GivenName:   "Given" + u,
		FamilyName:  "Family" + u,
		DisplayName: "Given Family " + u,
		Enabled:     true,
	}
}

// goodPassword passes Samba's default policy: 7 characters or more, three
// classes of four, without the account name.
func goodPassword() string { return "Hw-" + rand.Text()[:10] + "-7q!" }

// byGUID reads an object with AD's extended DN syntax, which the
// connector does not use, so the harness does not share its GUID code.
func byGUID(l *ldap.Conn, id string, attrs ...string) (*ldap.Entry, error) {
	res, err := l.Search(ldap.NewSearchRequest("<GUID="+id+">", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(res.Entries) != 1 {
		return nil, nil
	}
	return res.Entries[0], nil
}

func peek(t *testing.T, id string) (*ldap.Entry, bool) {
	t.Helper()
	e, err := byGUID(admin(t), id, "userPrincipalName", "mail", "givenName", "sn", "displayName", "userAccountControl",
		"sAMAccountName", "cn", "pwdLastSet")
	if err != nil {
		t.Fatalf("admin read of %s: %v", id, err)
	}
	return e, e != nil
}

// adminModify changes an account behind the connector's back.
func adminModify(t *testing.T, id string, change func(m *ldap.ModifyRequest)) {
	t.Helper()
	l := admin(t)
	e, err := byGUID(l, id)
	if err != nil || e == nil {
		t.Fatalf("admin read of %s: %v (found %v)", id, err, e != nil)
	}
	m := ldap.NewModifyRequest(e.DN, nil)
	change(m)
	if err := l.Modify(m); err != nil {
		t.Fatalf("admin modify of %s: %v", e.DN, err)
	}
}

// canBind reports whether login signs in with password over LDAPS.
func canBind(t *testing.T, login, password string) (bool, error) {
	t.Helper()
	l, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(tlsConf()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer l.Close()
	err = l.Bind(login, password)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		return false, err
	}
	if err != nil {
		t.Fatalf("bind as %s: %v", login, err)
	}
	return true, nil
}

// TestConformance runs the connector suite against the Samba DC.
func TestConformance(t *testing.T) {
	cfg := connConfig(settings(nil), dc.AdminPassword)
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Connector {
			c, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return c
		},
		Desired: func(*testing.T) connectors.Desired { return desired() },
		// Nothing is left of the name before the @ once the characters AD
		// refuses in an account name are taken out.
		Invalid:  connectors.Desired{Login: "*?[]@" + domain, DisplayName: "Nobody", Enabled: true},
		Password: goodPassword,
		Peek: func(t *testing.T, id string) (connectors.Account, bool) {
			e, ok := peek(t, id)
			if !ok {
				return connectors.Account{}, false
			}
			uac, err := strconv.Atoi(e.GetAttributeValue("userAccountControl"))
			if err != nil {
				t.Fatalf("userAccountControl of %s: %v", e.DN, err)
			}
			return connectors.Account{
				ID: id, Login: e.GetAttributeValue("userPrincipalName"), Email: e.GetAttributeValue("mail"),
				GivenName: e.GetAttributeValue("givenName"), FamilyName: e.GetAttributeValue("sn"),
				DisplayName: e.GetAttributeValue("displayName"), Enabled: uac&2 == 0,
			}, true
		},
		PasswordIs: func(t *testing.T, id, password string) bool {
			e, ok := peek(t, id)
			if !ok {
				t.Fatalf("no account %s to sign in as", id)
			}
			ok, _ = canBind(t, e.GetAttributeValue("userPrincipalName"), password)
			return ok
		},
		SetEnabled: func(t *testing.T, id string, enabled bool) {
			e, ok := peek(t, id)
			if !ok {
				t.Fatalf("no account %s to enable or disable", id)
			}
			uac, _ := strconv.Atoi(e.GetAttributeValue("userAccountControl"))
			if enabled {
				uac &^= 2
			} else {
				uac |= 2
			}
			adminModify(t, id, func(m *ldap.ModifyRequest) { m.Replace("userAccountControl", []string{strconv.Itoa(uac)}) })
		},
		Duplicate: connectortest.DuplicateRejected,
	})
}
