package m365

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/domains"

	"github.com/headwater/headwater/connectors"
)

// Kind describes the m365 kind of directory for the framework.
func Kind() connectors.Kind {
	return connectors.Kind{
		Name:        KindName,
		Description: "Microsoft 365 / Entra ID users, through Microsoft Graph, in one or more tenants",
		New: func(ctx context.Context, cfg connectors.Config) (connectors.Connector, error) {
			return New(ctx, cfg)
		},
		Validate: Validate,
	}
}

// init registers the kind, as the framework asks of each kind's package;
// it does no I/O.
func init() { connectors.Register(Kind()) }

// Conn is a connector to one m365 directory: a set of Entra tenants.
type Conn struct {
	log           *slog.Logger
	usageLocation string
	tenants       []*tenant
	byID          map[string]*tenant // by lowercased tenant id
	retry         retryPolicy
	domainTTL     time.Duration // see defaultDomainTTL
	domainMiss    time.Duration // see defaultDomainMiss
}

var _ connectors.Connector = (*Conn)(nil)

// tenant is one configured tenant: its sign-in, its Graph client and what
// is known of its verified domains.
type tenant struct {
	id      string // as configured
	cfg     tenantConfig
	adapter *core.GraphRequestAdapterBase

	refreshMu sync.Mutex      // held while GET /domains runs
	mu        sync.Mutex      // guards the fields below
	domains   map[string]bool // verified domains, lowercased
	fetched   time.Time       // when domains was loaded; zero: never
	lastTried time.Time       // last refresh attempt, successful or not
	lastErr   error           // of the last attempt
}

// defaultDomainMiss is how soon after the last refresh an unknown domain
// triggers another one: a domain verified a minute ago should work without
// waiting for the next scheduled refresh, but a stream of users in foreign
// domains must not turn into a stream of GET /domains.
const defaultDomainMiss = 30 * time.Second

// defaultDomainTTL is how long the verified domains of a tenant are
// trusted; domains change rarely and by hand.
const defaultDomainTTL = 5 * time.Minute

// New builds a connector from validated settings. It contacts nothing:
// Test does.
func New(_ context.Context, cfg connectors.Config) (*Conn, error) {
	pc, err := parseConfig(cfg.Settings, cfg.Secrets)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("directory", cfg.Directory, "kind", KindName)
	c := &Conn{
		log:           log,
		usageLocation: pc.usageLocation,
		byID:          map[string]*tenant{},
		retry:         defaultRetryPolicy(),
		domainTTL:     defaultDomainTTL,
		domainMiss:    defaultDomainMiss,
	}
	httpClient := cfg.HTTPClient
	if pc.caFile != "" {
		pem, err := os.ReadFile(pc.caFile)
		if err != nil {
			return nil, fmt.Errorf("m365 setting \"caFile\": %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("m365 setting \"caFile\": %s holds no PEM certificate", pc.caFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		httpClient = &http.Client{Transport: tr, Timeout: requestTimeout}
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: requestTimeout}
	}
	for _, tc := range pc.tenants {
		ts, err := newTokenSource(tc, httpClient)
		if err != nil {
			return nil, err
		}
		ad, err := newAdapter(tc, httpClient, ts)
		if err != nil {
			return nil, err
		}
		t := &tenant{id: tc.TenantID, cfg: tc, adapter: ad}
		c.tenants = append(c.tenants, t)
		c.byID[strings.ToLower(tc.TenantID)] = t
	}
	return c, nil
}

// Close releases nothing: HTTP connections belong to the client the
// connector was given, and MSAL's cache is memory.
func (c *Conn) Close() error { return nil }

// Test signs in to every tenant and reads its domains, which proves the
// credentials, the Domain.Read.All permission and the network path, and
// warms the routing cache.
func (c *Conn) Test(ctx context.Context) error {
	var errs []error
	for _, t := range c.tenants {
		if err := c.refreshDomains(ctx, t); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(t.verified()) == 0 {
			errs = append(errs, connectors.Rejected(fmt.Sprintf("tenant %s has no verified domain: no user can be provisioned there", t.id), nil))
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// verified lists a tenant's verified domains as last loaded.
func (t *tenant) verified() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.domains))
	for d := range t.domains {
		out = append(out, d)
	}
	return out
}

// refreshDomains loads a tenant's verified domains.
func (c *Conn) refreshDomains(ctx context.Context, t *tenant) error {
	t.mu.Lock()
	t.lastTried = time.Now()
	t.mu.Unlock()
	verified := map[string]bool{}
	err := c.call(ctx, t, "list domains", func(ctx context.Context) error {
		b := domains.NewDomainsRequestBuilderInternal(map[string]string{"baseurl": t.cfg.GraphURL}, t.adapter)
		resp, err := b.Get(ctx, nil)
		if err != nil {
			return err
		}
		for _, d := range resp.GetValue() {
			if v := d.GetIsVerified(); v != nil && *v && d.GetId() != nil {
				verified[strings.ToLower(*d.GetId())] = true
			}
		}
		return nil
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		// The caller gave up; that says nothing about the tenant.
		t.lastTried = time.Time{}
		return err
	}
	t.lastErr = err
	if err != nil {
		return err
	}
	t.domains, t.fetched = verified, time.Now()
	c.log.Debug("m365: verified domains loaded", "tenant", t.id, "count", len(verified))
	return nil
}

// ensureDomains refreshes every tenant whose domains are older than the
// TTL (or, with miss set, older than domainMiss). A failed refresh keeps
// the domains known before, if any: a routing decision on an old list
// beats stopping every delivery while Graph is away. It returns the errors
// of tenants whose domains are not known at all.
func (c *Conn) ensureDomains(ctx context.Context, miss bool) error {
	var errs []error
	for _, t := range c.tenants {
		if err := c.ensureTenantDomains(ctx, t, miss); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Conn) ensureTenantDomains(ctx context.Context, t *tenant, miss bool) error {
	// due reports whether to refresh now, or else the error to give: a
	// tenant that failed a moment ago is not asked again at once, so a
	// broken credential does not turn every call into a token request.
	due := func() (needed, have bool, err error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		have = t.domains != nil
		age := time.Since(t.fetched)
		if have && age <= c.domainTTL && (!miss || age <= c.domainMiss) {
			return false, true, nil
		}
		recent := !t.lastTried.IsZero() && time.Since(t.lastTried) < c.domainMiss
		switch {
		case recent && have:
			return false, true, nil
		case recent && t.lastErr != nil:
			return false, false, t.lastErr
		}
		// Never loaded, or a first load in flight: wait for it below.
		return true, have, nil
	}
	if needed, _, err := due(); !needed {
		return err
	}
	// One refresh per tenant at a time; those who waited find it done.
	t.refreshMu.Lock()
	defer t.refreshMu.Unlock()
	needed, have, err := due()
	if !needed {
		return err
	}
	if err := c.refreshDomains(ctx, t); err != nil {
		if !have {
			return err
		}
		c.log.Warn("m365: could not refresh verified domains, using the previous list", "tenant", t.id, "err", err)
	}
	return nil
}

// route finds the tenant that has login's domain among its verified
// domains. The error is Rejected when no tenant has it, and the failure to
// read a tenant's domains when the domain may be that tenant's.
func (c *Conn) route(ctx context.Context, login string) (*tenant, error) {
	_, domain, ok := strings.Cut(login, "@")
	if !ok || domain == "" {
		return nil, connectors.Rejected(fmt.Sprintf("login %q is not a user principal name (name@domain)", login), nil)
	}
	domain = strings.ToLower(domain)
	loadErr := c.ensureDomains(ctx, false)
	if t := c.lookupDomain(domain); t != nil {
		return t, nil
	}
	if loadErr == nil {
		loadErr = c.ensureDomains(ctx, true)
		if t := c.lookupDomain(domain); t != nil {
			return t, nil
		}
	}
	if loadErr != nil {
		return nil, loadErr
	}
	return nil, connectors.Rejected(fmt.Sprintf("user's domain %s is not a verified domain of any configured tenant", domain), nil)
}

func (c *Conn) lookupDomain(domain string) *tenant {
	for _, t := range c.tenants {
		t.mu.Lock()
		ok := t.domains[domain]
		t.mu.Unlock()
		if ok {
			return t
		}
	}
	return nil
}

// accountID joins a tenant and an object id into Account.ID. Object ids are
// unique only within a tenant.
func accountID(t *tenant, objectID string) string { return t.id + ":" + objectID }

// parseID splits an Account.ID. An id this connector could not have made
// names no account: ErrNotFound.
func (c *Conn) parseID(id string) (*tenant, string, error) {
	tid, oid, ok := strings.Cut(id, ":")
	if !ok || oid == "" || strings.ContainsAny(oid, "/?#:") {
		return nil, "", fmt.Errorf("%w: %q is not an m365 account id (<tenantId>:<objectId>)", connectors.ErrNotFound, id)
	}
	t := c.byID[strings.ToLower(tid)]
	if t == nil {
		return nil, "", fmt.Errorf("%w: account %q belongs to tenant %s, which this directory does not configure", connectors.ErrNotFound, id, tid)
	}
	return t, oid, nil
}
