package ad

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// Kind describes the ad kind of directory for the framework.
func Kind() connectors.Kind {
	return connectors.Kind{
		Name:        KindName,
		Description: "Active Directory users, over LDAPS or LDAP with StartTLS, in one domain",
		New: func(ctx context.Context, cfg connectors.Config) (connectors.Connector, error) {
			return New(ctx, cfg)
		},
		Validate: Validate,
	}
}

// init registers the kind, as the framework asks of each kind's package;
// it does no I/O.
func init() { connectors.Register(Kind()) }

const (
	// dialTimeout bounds connecting, the TLS handshake and the bind: a DC
	// that does not answer in that time is unreachable for our purposes.
	dialTimeout = 15 * time.Second
	// opTimeout bounds one LDAP request (one page of a search); go-ldap's
	// requests take no context, so this is the backstop when the caller's
	// has no deadline.
	opTimeout = 2 * time.Minute
	// maxIdle is how many bound connections are kept between operations.
	// A worker runs a few operations at once; more than this are dialled
	// and closed.
	maxIdle = 4
	// pageSize is the paged-search page size: half of AD's default
	// MaxPageSize (1000), so a domain with a lowered limit still works.
	pageSize = 500
)

// Conn is a connector to one AD domain.
type Conn struct {
	cfg *config
	log *slog.Logger

	mu     sync.Mutex
	idle   []*ldap.Conn
	closed bool

	// pageSize is the paged search's page size; tests lower it.
	pageSize uint32
	// noDirSync is set once the DC has refused DirSync (the bind account
	// lacks "Replicating Directory Changes", or the DC does not have it):
	// the change feed then follows uSNChanged. Tests set it to exercise
	// that path.
	noDirSync atomic.Bool
}

var _ connectors.Connector = (*Conn)(nil)

// New builds a connector from validated settings. It contacts nothing:
// Test does, and every operation connects when it needs to.
func New(_ context.Context, cfg connectors.Config) (*Conn, error) {
	pc, err := parseConfig(cfg.Settings, cfg.Secrets)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Conn{
		cfg:      pc,
		log:      log.With("directory", cfg.Directory, "kind", KindName),
		pageSize: pageSize,
	}, nil
}

// Close closes the idle connections; operations running still finish.
func (c *Conn) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, l := range idle {
		l.Close()
	}
	return nil
}

// Test signs in and checks that baseDN is the domain the DC serves and
// that userOU and importOUs exist, which is what every operation relies
// on.
func (c *Conn) Test(ctx context.Context) error {
	return c.withConn(ctx, func(l *ldap.Conn) error {
		root, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"defaultNamingContext", "namingContexts", "dnsHostName"}, nil))
		if err != nil {
			return classify("read the DC's rootDSE", err)
		}
		if len(root.Entries) == 1 {
			e := root.Entries[0]
			known := false
			for _, nc := range e.GetAttributeValues("namingContexts") {
				known = known || sameDN(nc, c.cfg.baseDN)
			}
			if def := e.GetAttributeValue("defaultNamingContext"); !known && def != "" {
				return connectors.Rejected(fmt.Sprintf("baseDN %s is not a domain this DC serves: its domain is %s", c.cfg.baseDN, def), nil)
			}
		}
		check := func(name, dn string) error {
			_, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{"1.1"}, nil))
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				return connectors.Rejected(fmt.Sprintf("%s %s does not exist in AD (or the bind account cannot see it): create it, or correct the setting", name, dn), err)
			}
			return classify("read "+name+" "+dn, err)
		}
		if err := check("userOU", c.cfg.userOU); err != nil {
			return err
		}
		for _, ou := range c.cfg.importOUs {
			if err := check("importOU", ou); err != nil {
				return err
			}
		}
		return nil
	})
}

func sameDN(a, b string) bool {
	da, err1 := ldap.ParseDN(a)
	db, err2 := ldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return strings.EqualFold(a, b)
	}
	return da.EqualFold(db)
}

// withConn runs fn on a bound connection of its own. go-ldap's requests
// take no context, so a cancelled ctx closes the connection under fn,
// which fails its request at once; such a connection, and one that broke,
// is not reused.
func (c *Conn) withConn(ctx context.Context, fn func(l *ldap.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := c.get(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	err = fn(l)
	if !stop() {
		// ctx ended while fn ran: its error is only the closed connection.
		if err != nil {
			return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		return nil
	}
	c.put(l)
	return err
}

// get returns an idle connection or dials a new one.
func (c *Conn) get(ctx context.Context) (*ldap.Conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("ad: the connector is closed")
	}
	for len(c.idle) > 0 {
		l := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if !l.IsClosing() {
			c.mu.Unlock()
			return l, nil
		}
	}
	c.mu.Unlock()
	return c.dial(ctx)
}

// put keeps a connection for the next operation, unless it broke.
func (c *Conn) put(l *ldap.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.IsClosing() || c.closed || len(c.idle) >= maxIdle {
		go l.Close()
		return
	}
	c.idle = append(c.idle, l)
}

// dial connects, encrypts and binds. The network part uses ctx; the LDAP
// part (StartTLS, bind) is cut short by closing the connection.
func (c *Conn) dial(ctx context.Context) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", c.cfg.url.Host)
	if err != nil {
		return nil, connectors.Unreachable(fmt.Sprintf("cannot reach the domain controller at %s: %v", c.cfg.url.Host, err), err)
	}
	isTLS := c.cfg.url.Scheme == "ldaps"
	if isTLS {
		tc := tls.Client(nc, c.cfg.tls.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, tlsError(c.cfg.url.Host, err)
		}
		nc = tc
	}
	l := ldap.NewConn(nc, isTLS)
	l.Start()
	l.SetTimeout(opTimeout)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	err = func() error {
		if c.cfg.startTLS {
			if err := l.StartTLS(c.cfg.tls.Clone()); err != nil {
				if ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) || ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable) {
					return connectors.Unreachable(fmt.Sprintf("the domain controller at %s refused StartTLS (%v): it has no certificate for LDAP; use ldaps:// or install one", c.cfg.url.Host, err), err)
				}
				return tlsError(c.cfg.url.Host, err)
			}
		}
		if err := l.Bind(c.cfg.bindDN, c.cfg.password); err != nil {
			return bindError(c.cfg.bindDN, err)
		}
		return nil
	}()
	if !stop() {
		l.Close()
		if err == nil {
			err = ctx.Err()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, connectors.Unreachable(fmt.Sprintf("the domain controller at %s did not complete the sign-in within %s", c.cfg.url.Host, dialTimeout), err)
		}
		return nil, fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func tlsError(host string, err error) error {
	if ce := connError(err); ce != nil {
		return ce
	}
	return connectors.Unreachable(fmt.Sprintf("no TLS connection to the domain controller at %s: %v", host, err), err)
}
