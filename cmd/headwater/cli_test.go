package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCLI drives the admin CLI against a running server, as an operator
// would: users, a CSV import with progress, groups, tokens, the audit log.
func TestCLI(t *testing.T) {
	dir, err := os.MkdirTemp("", "hw-cli-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p := serve(t, dir)
	defer func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}()
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "HEADWATER_URL="+p.url, "HEADWATER_TOKEN="+token)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	must := func(stdin string, want string, args ...string) string {
		t.Helper()
		out, errs, code := run(stdin, args...)
		if code != 0 || !strings.Contains(out+errs, want) {
			t.Fatalf("headwater %s: exit %d, want %q in:\n%s%s", strings.Join(args, " "), code, want, out, errs)
		}
		return out
	}
	must("Initial-Pass-2026\n", `"userName": "jdoe"`, "user", "create", "--username", "jdoe", "--given-name", "John", "--family-name", "Doe", "--email", "jdoe@example.com", "--password-stdin")
	must("", "jdoe@example.com", "user", "get", "jdoe")
	must("", `"title": "CTO"`, "user", "update", "jdoe@example.com", "--title", "CTO")
	must("", "jdoe: suspended", "user", "suspend", "jdoe")
	must("", "jdoe: activated", "user", "activate", "jdoe")
	must("New-Secret-2027!\n", "jdoe: password set", "user", "set-password", "jdoe", "--password-stdin", "--must-change")
	if _, errs, code := run("weak\n", "user", "set-password", "jdoe", "--password-stdin"); code != 1 || !strings.Contains(errs, "at least 10 characters") {
		t.Fatalf("a weak password: exit %d: %s", code, errs)
	}

	csv := filepath.Join(dir, "people.csv")
	os.WriteFile(csv, []byte("userName,givenName,familyName,email,password,roles\nann,Ann,Lee,ann@example.com,Ann-Pass-2026,ldap-reader\nbob,Bob,Ray,not-an-email,,\ncid,Cid,Roe,cid@example.com,,\n"), 0o600)
	out, errs, code := run("", "user", "import", csv)
	if code != 1 || !strings.Contains(out, "2 created, 1 failed") || !strings.Contains(out, "record 2 (bob)") || !strings.Contains(errs, "imported 3/3") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	list := must("", "USERNAME", "user", "list")
	for _, name := range []string{"admin", "ann", "cid", "jdoe"} {
		if !strings.Contains(list, name) {
			t.Fatalf("user list lacks %s:\n%s", name, list)
		}
	}

	must("", `"displayName": "Engineering"`, "group", "create", "Engineering")
	must("", "Engineering: 2 member(s) added", "group", "add-member", "Engineering", "jdoe", "ann")
	members := must("", "ann", "group", "members", "Engineering")
	if !strings.Contains(members, "jdoe") {
		t.Fatalf("members:\n%s", members)
	}
	must("", "Engineering: 1 member(s) removed", "group", "remove-member", "Engineering", "ann")
	must("", "Engineering", "group", "list")

	secret := strings.TrimSpace(must("", "hwt_", "token", "create", "--name", "okta", "--scope", "scim"))
	if !strings.HasPrefix(secret, "hwt_") {
		t.Fatalf("token create printed %q", secret)
	}
	must("", "okta", "token", "list")
	must("Gitea-Bind-2026\n", `"name": "gitea"`, "service-account", "create", "--name", "gitea", "--password-stdin")
	must("", "user.create", "audit", "--limit", "50")
	md := filepath.Join(dir, "sp.xml")
	os.WriteFile(md, []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://wiki.example.com/saml">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://wiki.example.com/saml/acs" index="0"/>
  </SPSSODescriptor>
</EntityDescriptor>`), 0o600)
	must("", `"entityId": "https://wiki.example.com/saml"`, "sp", "add", "--metadata", md, "--name", "Wiki", "--groups", "Engineering", "--attribute", "mail=email;dept=department")
	if out := must("", "https://wiki.example.com/saml", "sp", "list"); !strings.Contains(out, "Wiki") {
		t.Fatalf("sp list:\n%s", out)
	}
	if _, errs, code := run("", "sp", "add", "--metadata", csv); code != 1 || !strings.Contains(errs, "invalid_metadata") {
		t.Fatalf("sp add with a CSV file: exit %d %s", code, errs)
	}
	must("", `"next"`, "sp", "key", "prepare")
	must("", "https://wiki.example.com/saml: removed", "sp", "remove", "https://wiki.example.com/saml")
	must("", "/activate?token=", "user", "activation-link", "cid")
	// Directories: credentials from stdin, an unreachable tenant that
	// `directory test` names, bindings by name.
	settings := filepath.Join(dir, "m365.json")
	os.WriteFile(settings, []byte(`{"tenants":[{"tenantId":"contoso","clientId":"app","authorityHost":"https://127.0.0.1:1","graphURL":"https://127.0.0.1:1/v1.0"}]}`), 0o600)
	if _, errs, code := run("", "directory", "add", "m365test", "--kind", "m365", "--settings-file", settings); code != 1 || !strings.Contains(errs, "contoso.clientSecret") {
		t.Fatalf("directory add without a credential: exit %d %s", code, errs)
	}
	must("contoso.clientSecret=s3cret\n", `"hasSecrets": true`, "directory", "add", "m365test", "--kind", "m365", "--settings-file", settings, "--secrets-stdin", "--mode", "report")
	if out := must("", "m365test", "directory", "list"); !strings.Contains(out, "report") {
		t.Fatalf("directory list:\n%s", out)
	}
	if _, errs, code := run("", "directory", "test", "m365test"); code != 1 || !strings.Contains(errs, "m365test") {
		t.Fatalf("directory test of an unreachable tenant: exit %d %s", code, errs)
	}
	must("", "ann: bound to m365test", "binding", "add", "ann", "m365test")
	must("", "m365test", "binding", "list", "ann")
	must("", `"queued"`, "directory", "show", "m365test")
	must("", "ann: unbinding from m365test", "binding", "remove", "ann", "m365test")
	if _, errs, code := run("", "directory", "add", "x", "--kind", "nope"); code != 1 || !strings.Contains(errs, "unknown directory kind") {
		t.Fatalf("unknown kind: exit %d %s", code, errs)
	}
	must("", "jdoe: deleted", "user", "delete", "jdoe")
	if _, errs, code := run("", "user", "get", "jdoe"); code != 1 || !strings.Contains(errs, "no user") {
		t.Fatalf("get a deleted user: exit %d %s", code, errs)
	}
}
