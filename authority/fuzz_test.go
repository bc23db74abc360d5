package authority

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzNormalizeUser feeds arbitrary user records to the validation every
// front end relies on: it must never panic, a valid result must satisfy the
// invariants, and normalising twice must change nothing.
func FuzzNormalizeUser(f *testing.F) {
	seeds := []string{
		`{"userName":"ada","emails":[{"value":"ada@example.com"}]}`,
		`{"userName":"ada","emails":[{"value":"a@x.io","primary":true},{"value":"A@X.IO"}],"roles":["ADMIN"," ldap-reader"]}`,
		`{"userName":" spaced ","state":"staged"}`,
		`{"userName":"x","uidNumber":999,"homeDirectory":"rel"}`,
		`{"userName":"x\u0000y","emails":[{"value":"\"q\"@x.io"}]}`,
		`{"userName":"ünïcödé","name":{"givenName":"Ünï"},"loginShell":"/bin/zsh"}`,
		`{"userName":"m","enterprise":{"manager":"m"},"id":"m"}`,
		`{"userName":"e","emails":[{"value":""},{"value":"b@c.d","primary":true},{"value":"e@f.g","primary":true}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var u User
		if json.Unmarshal(data, &u) != nil {
			return
		}
		if err := normalizeUser(&u); err != nil {
			if _, ok := err.(*InvalidError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		primaries := 0
		for _, e := range u.Emails {
			if e.Primary {
				primaries++
			}
			if checkEmail("e", e.Value) != nil {
				t.Fatalf("invalid email kept: %q", e.Value)
			}
		}
		if len(u.Emails) > 0 && primaries != 1 {
			t.Fatalf("%d primary emails", primaries)
		}
		for _, r := range u.Roles {
			if !knownRoles[r] {
				t.Fatalf("unknown role kept: %q", r)
			}
		}
		if !u.State.Valid() {
			t.Fatalf("invalid state kept: %q", u.State)
		}
		again := *u.Clone()
		if err := normalizeUser(&again); err != nil {
			t.Fatalf("a normalised user failed validation: %v", err)
		}
		if !reflect.DeepEqual(&again, u.Clone()) {
			t.Fatalf("normalising twice changed the user:\n%+v\n%+v", u, again)
		}
	})
}
