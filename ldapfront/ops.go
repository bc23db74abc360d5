package ldapfront

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"strings"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/wire"
)

// search answers the RootDSE itself and hands everything else to the
// directory.
func (c *conn) search(ctx context.Context, msg *wire.Message, req *wire.SearchRequest) {
	if req.BaseDN == "" && req.Scope == wire.ScopeBaseObject {
		c.send(msg.ID, &wire.SearchResultEntry{DN: "", Attributes: c.rootDSE(req.Attributes)})
		c.send(msg.ID, &wire.SearchResultDone{Result: wire.Result{Code: wire.ResultSuccess}})
		return
	}
	if isSubschema(req) {
		c.subschema(ctx, msg, req)
		return
	}
	c.searchDirectory(ctx, msg, req)
}

// rootDSE describes the server (RFC 4512 §5.1), readable by anyone.
func (c *conn) rootDSE(want []string) []wire.Attribute {
	ext := []string{wire.OIDWhoAmI, wire.OIDPasswordModify}
	if c.s.cfg.TLS != nil {
		ext = append(ext, wire.OIDStartTLS)
	}
	all := []wire.Attribute{
		{Type: "objectClass", Values: []string{"top", "extensibleObject"}},
		{Type: "namingContexts", Values: []string{c.s.cfg.BaseDN}},
		{Type: "supportedLDAPVersion", Values: []string{"3"}},
		{Type: "supportedControl", Values: []string{wire.OIDPagedResults}},
		{Type: "supportedExtension", Values: ext},
		{Type: "supportedFeatures", Values: []string{"1.3.6.1.4.1.4203.1.5.1"}}, // all operational attributes ("+")
		{Type: "subschemaSubentry", Values: []string{"cn=Subschema"}},
		{Type: "vendorName", Values: []string{"Headwater"}},
	}
	if len(want) == 0 || contains(want, "*") || contains(want, "+") {
		return all
	}
	var out []wire.Attribute
	for _, a := range all {
		if contains(want, a.Type) {
			out = append(out, a)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (c *conn) extended(ctx context.Context, id int64, req *wire.ExtendedRequest) {
	switch req.Name {
	case wire.OIDWhoAmI:
		who := c.identity()
		authz := ""
		if !who.anonymous {
			authz = "dn:" + who.dn
		}
		c.send(id, wire.WhoAmIResponse(authz))
	case wire.OIDPasswordModify:
		c.passwordModify(ctx, id, req)
	default:
		c.send(id, &wire.ExtendedResponse{Result: wire.Result{Code: wire.ResultProtocolError, DiagnosticMessage: "unsupported extended operation " + req.Name}})
	}
}

// passwordModify implements RFC 3062 through authority: the policy
// applies and bound directories receive the new password. A user changes
// their own password with the old one; an admin resets anyone's. Without
// a new password, one is generated and returned.
func (c *conn) passwordModify(ctx context.Context, id int64, req *wire.ExtendedRequest) {
	reply := func(code wire.ResultCode, why string, gen []byte) {
		c.send(id, wire.PasswordModifyResponse(wire.Result{Code: code, DiagnosticMessage: why}, gen))
	}
	who := c.identity()
	if who.anonymous || who.kind != "user" {
		reply(wire.ResultInsufficientAccessRights, "bind as the user (or an admin) first", nil)
		return
	}
	if c.s.cfg.RequireTLS && !c.isTLS {
		reply(wire.ResultConfidentialityRequired, "password changes need TLS", nil)
		return
	}
	pm, err := wire.ParsePasswordModifyRequest(req)
	if err != nil {
		reply(wire.ResultProtocolError, err.Error(), nil)
		return
	}
	target := who.id
	isAdmin := contains(who.roles, authority.RoleAdmin)
	if pm.HasUserIdentity && pm.UserIdentity != "" && !strings.EqualFold(pm.UserIdentity, who.dn) {
		l, ok := c.s.parseBindName(strings.TrimPrefix(pm.UserIdentity, "dn:"))
		if !ok || l.service {
			reply(wire.ResultNoSuchObject, "no user "+pm.UserIdentity, nil)
			return
		}
		u, err := c.s.auth.ResolveLogin(ctx, l.name)
		if err != nil {
			reply(wire.ResultNoSuchObject, "no user "+pm.UserIdentity, nil)
			return
		}
		if u.ID != who.id && !isAdmin {
			reply(wire.ResultInsufficientAccessRights, "only an admin may change another user's password", nil)
			return
		}
		target = u.ID
	}
	if target == who.id && !isAdmin {
		// Self-service needs the current password, checked like a bind.
		if len(pm.OldPassword) == 0 {
			reply(wire.ResultUnwillingToPerform, "give your current password (oldPasswd)", nil)
			return
		}
		if _, err := c.s.auth.Authenticate(ctx, who.name, string(pm.OldPassword), c.remote); err != nil {
			reply(wire.ResultInvalidCredentials, "the current password is wrong", nil)
			return
		}
	}
	newPw := string(pm.NewPassword)
	var gen []byte
	if newPw == "" {
		newPw = generatePassword()
		gen = []byte(newPw)
	}
	if err := c.s.auth.SetPassword(authority.WithActor(ctx, authority.Actor{Name: "ldap:" + who.name, Source: c.remote}), target, newPw, false); err != nil {
		var pe *authority.PolicyError
		if errors.As(err, &pe) {
			reply(wire.ResultConstraintViolation, pe.Error(), nil)
			return
		}
		c.s.log.Warn("LDAP password modify failed", "remote", c.remote, "err", err)
		reply(wire.ResultUnavailable, "the password could not be changed; try again", nil)
		return
	}
	reply(wire.ResultSuccess, "", gen)
}

// generatePassword makes a 20-character password with every character
// class, which passes any policy this server accepts.
func generatePassword() string {
	const (
		lower  = "abcdefghijkmnopqrstuvwxyz"
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits = "23456789"
		other  = "-_.!+=@"
		all    = lower + upper + digits + other
	)
	pick := func(set string) byte {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(err)
		}
		return set[n.Int64()]
	}
	b := []byte{pick(lower), pick(upper), pick(digits), pick(other)}
	for len(b) < 20 {
		b = append(b, pick(all))
	}
	for i := len(b) - 1; i > 0; i-- {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		j := n.Int64()
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
