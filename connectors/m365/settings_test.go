package m365

import (
	"strings"
	"testing"

	"github.com/headwater/headwater/connectors"
)

func TestValidate(t *testing.T) {
	const tid = "11111111-1111-4111-8111-111111111111"
	good := `{"tenants":[{"tenantId":"` + tid + `","clientId":"app"}]}`
	secret := map[string]string{tid + ".clientSecret": "s3cret"}
	cases := []struct {
		name     string
		settings string
		secrets  map[string]string
		want     string // substring of the error; empty: valid
	}{
		{"valid", good, secret, ""},
		{"valid with everything", `{"tenants":[{"tenantId":"` + tid + `","clientId":"app","authorityHost":"https://login.microsoftonline.us","graphURL":"https://graph.microsoft.us/v1.0/"}],"usageLocation":"fr"}`, secret, ""},
		{"secret key in another case", good, map[string]string{strings.ToUpper(tid) + ".clientSecret": "s"}, ""},
		{"empty", ``, secret, "settings are empty"},
		{"not JSON", `{"tenants":`, secret, "not valid JSON"},
		{"unknown setting", `{"tenants":[{"tenant":"x","clientId":"app"}]}`, secret, `unknown field "tenant"`},
		{"no tenants", `{"tenants":[]}`, secret, `"tenants": at least one tenant`},
		{"no tenant id", `{"tenants":[{"clientId":"app"}]}`, secret, `"tenants[0].tenantId": is required`},
		{"common", `{"tenants":[{"tenantId":"common","clientId":"app"}]}`, map[string]string{"common.clientSecret": "s"}, `"tenants[0].tenantId": "common" is not a tenant`},
		{"tenant id with a slash", `{"tenants":[{"tenantId":"a/b","clientId":"app"}]}`, secret, `"tenants[0].tenantId"`},
		{"twice", `{"tenants":[{"tenantId":"` + tid + `","clientId":"a"},{"tenantId":"` + strings.ToUpper(tid) + `","clientId":"b"}]}`, secret, `"tenants[1].tenantId": tenant`},
		{"no client id", `{"tenants":[{"tenantId":"` + tid + `"}]}`, secret, `"tenants[0].clientId": is required`},
		{"http authority", `{"tenants":[{"tenantId":"` + tid + `","clientId":"app","authorityHost":"http://login.example"}]}`, secret, `"tenants[0].authorityHost"`},
		{"authority with path", `{"tenants":[{"tenantId":"` + tid + `","clientId":"app","authorityHost":"https://login.example/` + tid + `"}]}`, secret, `"tenants[0].authorityHost"`},
		{"http graph", `{"tenants":[{"tenantId":"` + tid + `","clientId":"app","graphURL":"http://graph.example/v1.0"}]}`, secret, `"tenants[0].graphURL"`},
		{"bad usage location", `{"tenants":[{"tenantId":"` + tid + `","clientId":"app"}],"usageLocation":"France"}`, secret, `"usageLocation"`},
		{"no secret", good, map[string]string{}, `secret "` + tid + `.clientSecret" (or "` + tid + `.certificate") is required`},
		{"empty secret", good, map[string]string{tid + ".clientSecret": " "}, "is empty"},
		{"both credentials", good, map[string]string{tid + ".clientSecret": "s", tid + ".certificate": "x"}, "are both set"},
		{"bad certificate", good, map[string]string{tid + ".certificate": "not a pem"}, "must hold a PEM certificate"},
		{"stray secret", good, map[string]string{tid + ".clientSecret": "s", "other.clientSecret": "s"}, `secret "other.clientSecret" does not belong`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(tc.settings), tc.secrets)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("Validate accepted it, want an error mentioning %s", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("Validate: %v, want it to mention %s", err, tc.want)
			}
		})
	}
}

func TestKindRegistered(t *testing.T) {
	k, err := connectors.Lookup(KindName)
	if err != nil {
		t.Fatal(err)
	}
	if k.New == nil || k.Validate == nil {
		t.Errorf("the registered kind lacks New or Validate: %+v", k)
	}
	if err := k.Validate([]byte(`{"tenants":[]}`), nil); err == nil {
		t.Error("the registered kind's Validate accepts no tenants")
	}
}

func TestCheckLogin(t *testing.T) {
	for _, login := range []string{"", "no-at", "@contoso.com", "a@", "a@b@c", ".a@contoso.com", "a.@contoso.com", "a b@contoso.com", "é@contoso.com", strings.Repeat("a", 65) + "@contoso.com"} {
		if err := checkLogin(login); connectors.KindOf(err) != connectors.KindRejected || err == nil {
			t.Errorf("checkLogin(%q) = %v, want rejected", login, err)
		}
	}
	for _, login := range []string{"a@contoso.com", "o'brien_x-y.z!#^~@contoso.com"} {
		if err := checkLogin(login); err != nil {
			t.Errorf("checkLogin(%q) = %v", login, err)
		}
	}
}
