package ldapfront

import (
	"context"
	"errors"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/wire"
)

// bind handles a BindRequest. Every failure — unknown name, wrong
// password, disabled account, backoff — is the same 49 after the same
// work, and leaves the connection anonymous (RFC 4513 §5.1).
func (c *conn) bind(ctx context.Context, id int64, req *wire.BindRequest) {
	fail := func(code wire.ResultCode, why string) {
		c.setIdentity(anonymous)
		c.send(id, &wire.BindResponse{Result: wire.Result{Code: code, DiagnosticMessage: why}})
	}
	switch {
	case req.Version != 3:
		fail(wire.ResultProtocolError, "only LDAP version 3 is supported")
		return
	case !req.Simple:
		fail(wire.ResultAuthMethodNotSupported, "SASL binds are not supported; use a simple bind over TLS")
		return
	case c.s.cfg.RequireTLS && !c.isTLS:
		fail(wire.ResultConfidentialityRequired, "this server requires TLS (StartTLS or LDAPS) before a bind")
		return
	}
	pw := string(req.Password)
	if req.Name == "" && pw == "" {
		c.setIdentity(anonymous)
		c.send(id, &wire.BindResponse{Result: wire.Result{Code: wire.ResultSuccess}})
		return
	}
	if pw == "" {
		// An unauthenticated bind (a name, no password) would "succeed"
		// anonymously in many servers and fool applications that test a
		// password by binding; refuse it (RFC 4513 §5.1.2).
		fail(wire.ResultUnwillingToPerform, "a bind with a name needs a password")
		return
	}
	who, err := c.authenticate(ctx, req.Name, pw)
	if err != nil {
		if !errors.Is(err, authority.ErrInvalidCredentials) {
			c.s.log.Warn("LDAP bind could not be checked", "remote", c.remote, "err", err)
			fail(wire.ResultUnavailable, "the directory is unavailable; try again")
			return
		}
		fail(wire.ResultInvalidCredentials, "")
		return
	}
	c.setIdentity(who)
	c.send(id, &wire.BindResponse{Result: wire.Result{Code: wire.ResultSuccess}})
}

// login is what a bind name designates.
type login struct {
	service bool
	name    string // userName, email, DOMAIN\user, or service account name
}

// parseBindName accepts the full DN (uid=NAME,ou=people,BASE or
// cn=NAME,ou=services,BASE), a bare userName, an email or UPN, and
// DOMAIN\userName (CONTRACT.md).
func (s *Server) parseBindName(name string) (login, bool) {
	if !strings.Contains(name, "=") {
		return login{name: name}, true
	}
	dn, err := ldap.ParseDN(name)
	if err != nil || len(dn.RDNs) < 2 {
		return login{}, false
	}
	base, err := ldap.ParseDN(s.cfg.BaseDN)
	if err != nil || len(dn.RDNs) != len(base.RDNs)+2 {
		return login{}, false
	}
	parent := &ldap.DN{RDNs: dn.RDNs[2:]}
	if !parent.EqualFold(base) || len(dn.RDNs[0].Attributes) != 1 || len(dn.RDNs[1].Attributes) != 1 {
		return login{}, false
	}
	rdn, ou := dn.RDNs[0].Attributes[0], dn.RDNs[1].Attributes[0]
	if !strings.EqualFold(ou.Type, "ou") {
		return login{}, false
	}
	switch {
	case strings.EqualFold(ou.Value, "people") && strings.EqualFold(rdn.Type, "uid"):
		return login{name: rdn.Value}, true
	case strings.EqualFold(ou.Value, "services") && strings.EqualFold(rdn.Type, "cn"):
		return login{service: true, name: rdn.Value}, true
	}
	return login{}, false
}

// authenticate checks a bind, answering repeated binds from the verified
// credential cache and bounding concurrent slow verifications.
func (c *conn) authenticate(ctx context.Context, name, pw string) (identity, error) {
	s := c.s
	l, ok := s.parseBindName(name)
	if !ok {
		// Not a name of ours: authority finds no such login and still
		// spends a verification's time (and counts the failure), so the
		// answer does not reveal which names exist.
		s.acquireSlow(ctx)
		defer s.releaseSlow()
		_, err := s.auth.Authenticate(ctx, name, pw, c.remote)
		if err == nil {
			err = authority.ErrInvalidCredentials
		}
		return identity{}, err
	}
	if l.service {
		sa, err := s.auth.LookupServiceAccount(ctx, l.name)
		if err == nil && sa.Password != nil && !sa.Disabled && s.binds.hit("service:"+sa.ID, sa.Password.Hash, pw) {
			return identity{kind: "service", id: sa.ID, name: sa.Name, dn: s.serviceDN(sa.Name), roles: sa.Roles}, nil
		}
		s.acquireSlow(ctx)
		p, err := s.auth.AuthenticateService(ctx, l.name, pw, c.remote)
		s.releaseSlow()
		if err != nil {
			return identity{}, err
		}
		if sa, err := s.auth.GetServiceAccount(ctx, p.ID); err == nil && sa.Password != nil {
			s.binds.remember("service:"+sa.ID, sa.Password.Hash, pw)
		}
		return identity{kind: "service", id: p.ID, name: p.Name, dn: s.serviceDN(p.Name), roles: p.Roles}, nil
	}
	if u, err := s.auth.ResolveLogin(ctx, l.name); err == nil && u.Password != nil && u.State == authority.StateActive &&
		s.binds.hit("user:"+u.ID, u.Password.Hash, pw) {
		return identity{kind: "user", id: u.ID, name: u.UserName, dn: s.userDN(u.UserName), roles: u.Roles}, nil
	}
	s.acquireSlow(ctx)
	p, err := s.auth.Authenticate(ctx, l.name, pw, c.remote)
	s.releaseSlow()
	if err != nil {
		return identity{}, err
	}
	// Remember the verifier as it is now (a login may just have upgraded
	// an imported hash).
	if u, err := s.auth.GetUser(ctx, p.ID); err == nil && u.Password != nil {
		s.binds.remember("user:"+u.ID, u.Password.Hash, pw)
	}
	return identity{kind: "user", id: p.ID, name: p.Name, dn: s.userDN(p.Name), roles: p.Roles}, nil
}

func (s *Server) acquireSlow(ctx context.Context) {
	select {
	case s.slow <- struct{}{}:
	case <-ctx.Done():
		s.slow <- struct{}{}
	}
}

func (s *Server) releaseSlow() { <-s.slow }

func (s *Server) userDN(userName string) string {
	return "uid=" + ldap.EscapeDN(userName) + ",ou=people," + s.cfg.BaseDN
}

func (s *Server) serviceDN(name string) string {
	return "cn=" + ldap.EscapeDN(name) + ",ou=services," + s.cfg.BaseDN
}
