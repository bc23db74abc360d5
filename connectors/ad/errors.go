package ad

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// AD puts a Win32 error code in front of its diagnostic message
// ("0000052D: Constraint violation - ..."); the LDAP result code alone
// does not say which constraint.
const (
	winPasswordPolicy = 0x52D  // ERROR_PASSWORD_RESTRICTION
	winNameExists     = 0x2071 // ERROR_DS_OBJ_STRING_NAME_EXISTS: a sAMAccountName in use
	winConstraint     = 0x202F // ERROR_DS_CONSTRAINT_VIOLATION: Samba, for a UPN in use among others
	winUPNNotUnique   = 0x21C8 // ERROR_DS_UPN_VALUE_NOT_UNIQUE_IN_FOREST: Windows, for a UPN in use
)

var (
	winCodeRE  = regexp.MustCompile(`^\s*([0-9A-Fa-f]{8}):`)
	bindDataRE = regexp.MustCompile(`data ([0-9A-Fa-f]{1,8})`)
)

// winCode reads the Win32 code at the start of an AD diagnostic message;
// -1 when there is none.
func winCode(msg string) int64 {
	m := winCodeRE.FindStringSubmatch(msg)
	if m == nil {
		return -1
	}
	var v int64
	fmt.Sscanf(m[1], "%x", &v)
	return v
}

// diagnostic is the DC's own message in an LDAP error.
func diagnostic(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.Err != nil {
		return strings.TrimRight(strings.TrimSpace(le.Err.Error()), "\x00")
	}
	return err.Error()
}

// bindReasons explains the "data" code AD puts in a failed bind's message
// (AcceptSecurityContext error, data 52e), in words an administrator acts
// on.
var bindReasons = map[string]string{
	"525": "the account does not exist (data 525): check bindDN",
	"52e": "the password is wrong (data 52e): check the bindPassword secret",
	"530": "the account may not sign in at this time of day (data 530)",
	"531": "the account may not sign in from this computer (data 531)",
	"532": "the account's password has expired (data 532): set a new one in AD and update bindPassword",
	"533": "the account is disabled (data 533): enable it in AD",
	"568": "the account is in too many groups to sign in (data 568)",
	"701": "the account has expired (data 701): extend its expiry in AD",
	"773": "the account must change its password before signing in (data 773): set a new one in AD and update bindPassword",
	"775": "the account is locked out (data 775): unlock it in AD, and check that nothing keeps trying an old password",
}

// bindError classifies a failed bind as the directory's bind account.
func bindError(bindDN string, err error) error {
	if ce := connError(err); ce != nil {
		return ce
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultInvalidCredentials:
			msg := diagnostic(err)
			reason := "the DC refused the credentials"
			if m := bindDataRE.FindStringSubmatch(msg); m != nil {
				if r, ok := bindReasons[strings.ToLower(m[1])]; ok {
					reason = r
				} else {
					reason = "the DC refused the credentials (data " + m[1] + ")"
				}
			}
			return connectors.AuthFailed(fmt.Sprintf("AD refused to sign in as %s: %s", bindDN, reason), err)
		case ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired:
			return connectors.AuthFailed("the domain controller requires an encrypted connection for this sign-in: use an ldaps:// URL or startTLS ("+diagnostic(err)+")", err)
		case ldap.LDAPResultInappropriateAuthentication, ldap.LDAPResultInsufficientAccessRights:
			return connectors.AuthFailed(fmt.Sprintf("AD refused to sign in as %s: %s", bindDN, diagnostic(err)), err)
		}
	}
	return classify("sign in as "+bindDN, err)
}

// connError classifies a failure to reach the DC, or nil when err is not
// one.
func connError(err error) error {
	var ce *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ue), errors.As(err, &ce) && isUnknownAuthority(ce):
		return connectors.Unreachable("the domain controller's certificate is not signed by a trusted CA: give the CA that issued it in caFile or caPEM ("+err.Error()+")", err)
	case errors.As(err, &he):
		return connectors.Unreachable("the domain controller's certificate does not name the host in url: use the name the certificate has ("+err.Error()+")", err)
	case errors.As(err, &ce):
		return connectors.Unreachable("the domain controller's certificate is not valid: "+err.Error(), err)
	}
	var ne net.Error
	var oe *net.OpError
	var le *ldap.Error
	switch {
	case errors.As(err, &oe), errors.As(err, &ne):
		return connectors.Unreachable("cannot reach the domain controller: "+err.Error(), err)
	case errors.As(err, &le) && le.ResultCode == ldap.ErrorNetwork:
		return connectors.Unreachable("lost the connection to the domain controller: "+err.Error(), err)
	case errors.Is(err, ldap.ErrNilConnection):
		return connectors.Unreachable("no connection to the domain controller", err)
	}
	return nil
}

func isUnknownAuthority(ce *tls.CertificateVerificationError) bool {
	var ue x509.UnknownAuthorityError
	return errors.As(ce.Err, &ue)
}

func duplicateUPN(op, msg string, err error) error {
	return connectors.Rejected(fmt.Sprintf("%s: the user principal name (login) is already used by another account in the forest (AD said %q)", op, msg), err)
}

// classify turns an LDAP failure of op into a connectors error whose
// message says, in an administrator's words, what AD refused and why.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ke *connectors.Error
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if ce := connError(err); ce != nil {
		return ce
	}
	var le *ldap.Error
	if !errors.As(err, &le) {
		return connectors.Transient(op+": "+err.Error(), err)
	}
	msg := diagnostic(err)
	words := fmt.Sprintf("%s: AD said %q", op, msg)
	switch winCode(msg) {
	case winPasswordPolicy:
		return connectors.Rejected(fmt.Sprintf("the password does not meet the domain's policy (minimum length, complexity, or history), so AD refused to %s. Choose a longer password with upper and lower case letters, digits and symbols, not containing the user's name (AD said %q)", op, msg), err)
	case winNameExists:
		return connectors.Rejected(fmt.Sprintf("%s: the account name (sAMAccountName, the pre-Windows 2000 logon name) is already used by another account in the domain; rename one of them (AD said %q)", op, msg), err)
	case winUPNNotUnique:
		return duplicateUPN(op, msg, err)
	case winConstraint:
		if l := strings.ToLower(msg); strings.Contains(l, "upn") || strings.Contains(l, "userprincipalname") {
			return duplicateUPN(op, msg, err)
		}
	}
	switch le.ResultCode {
	case ldap.LDAPResultNoSuchObject:
		return fmt.Errorf("%w: %s", connectors.ErrNotFound, words)
	case ldap.LDAPResultInsufficientAccessRights:
		return connectors.AuthFailed(fmt.Sprintf("%s: the bind account lacks the rights in AD (delegate create, delete, reset password and write of user attributes on the OUs to it): %s", op, msg), err)
	case ldap.LDAPResultInvalidCredentials, ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultInappropriateAuthentication:
		return connectors.AuthFailed(words, err)
	case ldap.LDAPResultBusy, ldap.LDAPResultAdminLimitExceeded, ldap.LDAPResultTimeLimitExceeded:
		return connectors.Transient(words, err)
	case ldap.LDAPResultUnavailable, ldap.LDAPResultTimeout:
		return connectors.Unreachable(words, err)
	case ldap.LDAPResultConstraintViolation, ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultNamingViolation,
		ldap.LDAPResultObjectClassViolation, ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultEntryAlreadyExists,
		ldap.LDAPResultAttributeOrValueExists, ldap.LDAPResultUndefinedAttributeType, ldap.LDAPResultInvalidDNSyntax,
		ldap.LDAPResultNotAllowedOnNonLeaf, ldap.LDAPResultNotAllowedOnRDN, ldap.LDAPResultObjectClassModsProhibited:
		return connectors.Rejected(words, err)
	}
	return connectors.Transient(words, err)
}
