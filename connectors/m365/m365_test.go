package m365

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headwater/headwater/connectors"
	"github.com/headwater/headwater/connectors/connectortest"
	"github.com/headwater/headwater/internal/graphemu"
)

const (
	tenantA  = "11111111-1111-4111-8111-111111111111"
	tenantB  = "22222222-2222-4222-8222-222222222222"
	clientID = "6731de76-14a6-49ae-97bc-6eba6914391e"
	secret   = "emulator-secret-value"
)

// emuConfig has two tenants with the same app registered in both. Tenant A
// has an unverified domain besides its verified ones.
func emuConfig() graphemu.Config {
	app := graphemu.App{ClientID: clientID, ClientSecret: secret}
	return graphemu.Config{
		Tenants: []graphemu.TenantConfig{
			{
				ID: tenantA,
				Domains: []graphemu.Domain{
					{Name: "contoso.onmicrosoft.com", Verified: true},
					{Name: "contoso.com", Verified: true, Default: true},
					{Name: "pending.contoso.com", Verified: false},
				},
				Apps: []graphemu.App{app},
			},
			{
				ID:      tenantB,
				Domains: []graphemu.Domain{{Name: "fabrikam.com", Verified: true}},
				Apps:    []graphemu.App{app},
			},
		},
	}
}

func startEmu(t *testing.T, cfg graphemu.Config) *graphemu.Emulator {
	t.Helper()
	emu, err := graphemu.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("graphemu.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := emu.Close(); err != nil {
			t.Errorf("emulator Close: %v", err)
		}
	})
	return emu
}

// connConfig configures a directory on the emulator's tenants, with the
// client secret of each.
func connConfig(emu *graphemu.Emulator, tenants ...string) connectors.Config {
	s := Settings{}
	secrets := map[string]string{}
	for _, id := range tenants {
		s.Tenants = append(s.Tenants, TenantSettings{TenantID: id, ClientID: clientID, AuthorityHost: emu.URL(), GraphURL: emu.GraphURL()})
		secrets[id+".clientSecret"] = secret
	}
	raw, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return connectors.Config{Directory: "m365-test", Settings: raw, Secrets: secrets, HTTPClient: emu.Client()}
}

// sleeps records the waits a Conn asks for instead of sleeping, so tests
// see that Retry-After was honoured without waiting for it.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func newConn(t *testing.T, cfg connectors.Config) *Conn {
	t.Helper()
	c, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// splitID is the test's own reading of Account.ID, independent of parseID.
func splitID(t *testing.T, id string) (string, string) {
	t.Helper()
	tid, oid, ok := strings.Cut(id, ":")
	if !ok {
		t.Fatalf("account id %q is not <tenant>:<object id>", id)
	}
	return tid, oid
}

func unique() string { return strings.ToLower(rand.Text()[:10]) }

func desired(domain string) connectors.Desired {
	u := unique()
	return connectors.Desired{
		UserID:      "hw-" + u,
		Login:       "user." + u + "@" + domain,
		Email:       "mail." + u + "@" + domain,
		GivenName:   "Given" + u,
		FamilyName:  "Family" + u,
		DisplayName: "Given Family " + u,
		Enabled:     true,
	}
}

const goodPassword = "Correct-Horse-9-Battery"

// TestConformance runs the connector suite on two emulated tenants; the
// accounts go to tenant A by their domain.
func TestConformance(t *testing.T) {
	emu := startEmu(t, emuConfig())
	cfg := connConfig(emu, tenantA, tenantB)
	connectortest.Run(t, connectortest.Harness{
		New: func(t *testing.T) connectors.Connector {
			c, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return c
		},
		Desired: func(*testing.T) connectors.Desired { return desired("contoso.com") },
		// A domain tenant A has added but not verified.
		Invalid: connectors.Desired{Login: "someone@pending.contoso.com", DisplayName: "Someone", Enabled: true},
		Peek: func(t *testing.T, id string) (connectors.Account, bool) {
			tid, oid := splitID(t, id)
			u, err := emu.User(tid, oid)
			if errors.Is(err, graphemu.ErrUserNotFound) {
				return connectors.Account{}, false
			}
			if err != nil {
				t.Fatalf("emulator User(%s): %v", id, err)
			}
			return connectors.Account{
				ID: id, Login: u.UserPrincipalName, Email: u.Mail, GivenName: u.GivenName,
				FamilyName: u.Surname, DisplayName: u.DisplayName, Enabled: u.AccountEnabled,
			}, true
		},
		PasswordIs: func(t *testing.T, id, password string) bool {
			tid, oid := splitID(t, id)
			pw, err := emu.PasswordOf(tid, oid)
			if err != nil {
				t.Fatalf("emulator PasswordOf(%s): %v", id, err)
			}
			return pw == password
		},
		SetEnabled: func(t *testing.T, id string, enabled bool) {
			tid, oid := splitID(t, id)
			if err := emu.SetAccountEnabled(tid, oid, enabled); err != nil {
				t.Fatalf("emulator SetAccountEnabled(%s): %v", id, err)
			}
		},
		Duplicate: connectortest.DuplicateRejected,
	})
}
