package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/scim/scimerr"
)

// FuzzUserFromSCIM feeds arbitrary JSON objects to UserFromSCIM. It must
// never panic; it fails only with a 4xx *scimerr.Error and then leaves the
// user alone; and what it accepts must survive a trip out and back in
// unchanged. Seeds are in testdata/fuzz/FuzzUserFromSCIM.
func FuzzUserFromSCIM(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var res map[string]any
		if d.Decode(&res) != nil || res == nil {
			t.Skip()
		}
		for _, start := range []*authority.User{fullUser(), {ID: "new", State: authority.StateStaged}} {
			u := start.Clone()
			pw, err := UserFromSCIM(res, u)
			if err != nil {
				var se *scimerr.Error
				if !errors.As(err, &se) || se.Status < 400 || se.Status > 499 || se.ScimType == "" || se.Detail == "" {
					t.Fatalf("error %#v is not a 4xx *scimerr.Error", err)
				}
				if !reflect.DeepEqual(u, start) || pw != nil {
					t.Fatalf("user changed or password returned despite error %v", err)
				}
				continue
			}
			if pw != nil && *pw == "" {
				t.Fatal("empty password returned")
			}
			out := UserToSCIM(u, nil, base)
			again := u.Clone()
			if _, err := UserFromSCIM(out, again); err != nil {
				t.Fatalf("own representation rejected: %v\n%v", err, out)
			}
			if !reflect.DeepEqual(again, u) {
				t.Fatalf("round trip changed the user:\n got %+v\nwant %+v", again, u)
			}
		}
	})
}
