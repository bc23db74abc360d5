package api

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/headwater/headwater/authority"
)

// FuzzUserInput sends arbitrary bodies through the admin API's decoding of
// user input: it must never panic, and every rejection must be a 4xx
// answer naming what was wrong.
func FuzzUserInput(f *testing.F) {
	seeds := []string{
		`{"userName":"jdoe","givenName":"John","familyName":"Doe","email":"jdoe@example.com","password":"Sup3r-Secret!"}`,
		`{"userName":"a","emails":[{"value":"a@b.c","type":"work","primary":true}],"email":"x@y.z"}`,
		`{"userName":1}`,
		`{"roles":"admin"}`,
		`{"enterprise":{"manager":"id","department":"R&D"},"uidNumber":1e3}`,
		`{"state":null,"phoneNumbers":[{"value":"+1"}]}`,
		`{"userName":"a"}{"userName":"b"}`,
		`{"colour":"red"}`,
		`[`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/users", bytes.NewReader(body))
		w := httptest.NewRecorder()
		var in UserInput
		if err := decode(w, r, maxBody, &in); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Message == "" {
				t.Fatalf("decode error %#v is not a clear 4xx", err)
			}
			return
		}
		var u authority.User
		if err := in.apply(&u); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("apply error %#v is not a 400", err)
			}
			return
		}
		if in.UserName != nil && u.UserName != *in.UserName {
			t.Fatal("userName not applied")
		}
		if in.Email != nil && *in.Email != "" && u.PrimaryEmail() == "" {
			t.Fatal("email not applied")
		}
	})
}
