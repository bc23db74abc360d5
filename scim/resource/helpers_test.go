package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/scimerr"
)

const base = "https://idp.example.com/scim/v2"

// decode reads JSON the way the server does: numbers as json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad test JSON: %v\n%s", err, s)
	}
	return m
}

func fixture(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}

// viaJSON sends a representation through encoding/json and back, as a
// response read by a client would be.
func viaJSON(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(m); err != nil {
		t.Fatal(err)
	}
	return decode(t, buf.String())
}

// wantSCIMError checks that err is a 400 *scimerr.Error of scimType whose
// detail mentions each of names.
func wantSCIMError(t *testing.T, err error, scimType string, names ...string) {
	t.Helper()
	var se *scimerr.Error
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want *scimerr.Error", err, err)
	}
	if se.Status != 400 || se.ScimType != scimType {
		t.Fatalf("error = %d %s %q, want 400 %s", se.Status, se.ScimType, se.Detail, scimType)
	}
	for _, n := range names {
		if !strings.Contains(se.Detail, n) {
			t.Errorf("detail %q does not name %q", se.Detail, n)
		}
	}
}
