package ldapfront_test

import (
	"context"
	"errors"
	"github.com/headwater/headwater/authority/store"
	"os/exec"
	"strings"
	"testing"

	"github.com/headwater/headwater/authority"
)

// ldapTool runs one of OpenLDAP's command-line clients (Debian's
// ldap-utils, installed by make test) and returns its output and exit code.
func ldapTool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (apt-get install ldap-utils; make test installs it): %v", name, err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestOpenLDAPClients drives the front end with ldapsearch, ldapwhoami,
// ldappasswd and ldapcompare.
func TestOpenLDAPClients(t *testing.T) {
	f := setup(t)
	url := "ldap://" + f.addr
	gitea := []string{"-x", "-H", url, "-D", "cn=gitea,ou=services," + base, "-w", "Gitea-Bind-2026"}

	out, code := ldapTool(t, "ldapsearch", append(gitea, "-LLL", "-b", base, "(&(objectClass=posixAccount)(uid=alice))", "uid", "mail", "uidNumber")...)
	if code != 0 || !strings.Contains(out, "dn: uid=alice,ou=people,"+base) || !strings.Contains(out, "mail: alice@example.com") {
		t.Fatalf("ldapsearch (exit %d):\n%s", code, out)
	}
	// Paged, as SSSD and many apps search.
	out, code = ldapTool(t, "ldapsearch", append(gitea, "-LLL", "-E", "pr=1/noprompt", "-b", "ou=people,"+base, "(objectClass=person)", "uid")...)
	if code != 0 || strings.Count(out, "dn: uid=") != 2 {
		t.Fatalf("paged ldapsearch (exit %d):\n%s", code, out)
	}
	out, code = ldapTool(t, "ldapsearch", "-x", "-H", url, "-LLL", "-s", "base", "-b", "", "supportedExtension")
	if code != 0 || !strings.Contains(out, "1.3.6.1.4.1.4203.1.11.3") {
		t.Fatalf("RootDSE (exit %d):\n%s", code, out)
	}
	out, code = ldapTool(t, "ldapwhoami", "-x", "-H", url, "-D", "alice@example.com", "-w", "Alice-Pass-2026")
	if code != 0 || strings.TrimSpace(out) != "dn:uid=alice,ou=people,"+base {
		t.Fatalf("ldapwhoami (exit %d): %s", code, out)
	}
	if out, code = ldapTool(t, "ldapwhoami", "-x", "-H", url, "-D", "alice", "-w", "wrong"); code != 49 {
		t.Fatalf("ldapwhoami with a wrong password: exit %d, want 49: %s", code, out)
	}
	// ldapcompare exits 6 for TRUE and 5 for FALSE.
	if out, code = ldapTool(t, "ldapcompare", append(gitea, "uid=alice,ou=people,"+base, "mail:alice@example.com")...); code != 6 {
		t.Fatalf("ldapcompare true: exit %d: %s", code, out)
	}
	if out, code = ldapTool(t, "ldapcompare", append(gitea, "uid=alice,ou=people,"+base, "mail:eve@example.com")...); code != 5 {
		t.Fatalf("ldapcompare false: exit %d: %s", code, out)
	}
	// ldappasswd: self-service change; the new password binds, the old
	// one does not, and bound directories get it.
	u, _ := f.auth.LookupUser(context.Background(), authority.ByUserName, "alice")
	if _, err := f.auth.Bind(context.Background(), u.ID, "corp-ad", ""); err != nil {
		t.Fatal(err)
	}
	out, code = ldapTool(t, "ldappasswd", "-x", "-H", url, "-D", "uid=alice,ou=people,"+base, "-w", "Alice-Pass-2026",
		"-a", "Alice-Pass-2026", "-s", "Changed-By-ldappasswd-1")
	if code != 0 {
		t.Fatalf("ldappasswd (exit %d): %s", code, out)
	}
	if _, code = ldapTool(t, "ldapwhoami", "-x", "-H", url, "-D", "alice", "-w", "Changed-By-ldappasswd-1"); code != 0 {
		t.Fatal("the new password does not bind")
	}
	if _, code = ldapTool(t, "ldapwhoami", "-x", "-H", url, "-D", "alice", "-w", "Alice-Pass-2026"); code != 49 {
		t.Fatal("the old password still binds")
	}
	if es, _ := f.st.Outbox(context.Background(), "corp-ad", 10); countKind(es, store.OutboxPassword) != 1 {
		t.Fatalf("the change is not in the outbox: %+v", es)
	}
	// Writes are refused with 53.
	out, code = ldapTool(t, "ldapdelete", append(gitea, "uid=alice,ou=people,"+base)...)
	if code != 53 {
		t.Fatalf("ldapdelete: exit %d, want 53: %s", code, out)
	}
}
