package ldapfront_test

import (
	"encoding/json"
	"net"
	"os/exec"
	"slices"
	"testing"
)

// TestPythonLDAP3ParsesSchema: python-ldap3 (Debian's python3-ldap3,
// installed by the test command) binds, reads the RootDSE and the
// subschema with get_info=ALL, and searches with the schema loaded.
func TestPythonLDAP3ParsesSchema(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import ldap3").CombinedOutput(); err != nil {
		t.Fatalf("python3-ldap3 is missing (make test installs it): %v %s", err, out)
	}
	f := setup(t)
	host, port, _ := net.SplitHostPort(f.addr)
	out, err := exec.Command(py, "testdata/ldap3_schema.py", host, port, "uid=admin,ou=people,"+base, "Admin-Pass-2026", base).CombinedOutput()
	if err != nil {
		t.Fatalf("ldap3: %v\n%s", err, out)
	}
	var got struct {
		NamingContexts    []string `json:"naming_contexts"`
		SupportedControls []string `json:"supported_controls"`
		AttributeTypes    []string `json:"attribute_types"`
		ObjectClasses     []string `json:"object_classes"`
		InetOrgPersonMust []string `json:"inetOrgPerson_must"`
		UIDSyntax         string   `json:"uid_syntax"`
		Entries           []string `json:"entries"`
		AliceMail         []string `json:"alice_mail"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("ldap3 output: %v\n%s", err, out)
	}
	if !slices.Contains(got.NamingContexts, base) || !slices.Contains(got.SupportedControls, "1.2.840.113556.1.4.319") {
		t.Fatalf("RootDSE as ldap3 read it: %+v", got)
	}
	for _, want := range []string{"uid", "mail", "memberOf", "entryUUID", "uidNumber", "member", "uniqueMember"} {
		if !slices.Contains(got.AttributeTypes, want) {
			t.Errorf("ldap3's schema lacks attribute type %s", want)
		}
	}
	for _, want := range []string{"inetOrgPerson", "posixAccount", "groupOfNames", "groupOfUniqueNames", "posixGroup"} {
		if !slices.Contains(got.ObjectClasses, want) {
			t.Errorf("ldap3's schema lacks object class %s", want)
		}
	}
	if got.UIDSyntax == "" || len(got.Entries) != 1 || len(got.AliceMail) != 1 || got.AliceMail[0] != "alice@example.com" {
		t.Fatalf("ldap3 search with the schema: %+v", got)
	}
}
