package resource

import (
	"slices"
	"strings"
	"testing"

	"github.com/headwater/headwater/scim/schema"
	"github.com/headwater/headwater/scim/scimerr"
)

// sortUsers are representations as a client would send them back: note
// the mixed case and the missing values.
func sortUsers(t *testing.T) []map[string]any {
	return []map[string]any{
		decode(t, `{"id":"1","userName":"carol","name":{"familyName":"Zimmer"},"emails":[{"value":"z@example.com"},{"value":"a@example.com","primary":true}],
			"meta":{"lastModified":"2024-05-01T10:00:00Z"},"urn:headwater:params:scim:schemas:extension:posix:1.0:User":{"uidNumber":10000}}`),
		decode(t, `{"id":"2","userName":"Bob","name":{"familyName":"adams"},"emails":[{"value":"m@example.com"},{"value":"b@example.com"}],
			"meta":{"lastModified":"2024-05-01T12:00:00+03:00"},"urn:headwater:params:scim:schemas:extension:posix:1.0:User":{"uidNumber":9000},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`),
		decode(t, `{"id":"3","userName":"alice","emails":[{"value":"c@example.com","primary":"True"}],"active":true,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"engineering"}}`),
		decode(t, `{"id":"4","userName":"Émile","name":{"familyName":"Adams"},"active":false,"meta":{"lastModified":"2024-04-30T00:00:00Z"},
			"urn:headwater:params:scim:schemas:extension:posix:1.0:User":{"uidNumber":100000}}`),
	}
}

func ids(rs []map[string]any) string {
	var out []string
	for _, r := range rs {
		out = append(out, r["id"].(string))
	}
	return strings.Join(out, ",")
}

func TestSorter(t *testing.T) {
	cases := []struct{ sortBy, asc string }{
		{"userName", "3,2,1,4"},          // case-insensitive; É sorts after ASCII
		{"USERNAME", "3,2,1,4"},          // the path itself is case-insensitive
		{"id", "1,2,3,4"},                // caseExact
		{"name.familyName", "2,4,1,3"},   // adams = Adams, tie broken by id; missing last
		{"emails", "1,3,2,4"},            // as emails.value
		{"emails.value", "1,3,2,4"},      // primary else first: 1 a@ (primary), 3 c@ (primary "True"), 2 m@ (first)
		{"meta.lastModified", "4,2,1,3"}, // 09:00Z < 10:00Z; offsets honoured
		{"urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber", "2,1,4,3"}, // numeric, not lexical
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "3,2,1,4"},
		{"active", "4,3,1,2"}, // false < true, missing last
	}
	rt := schema.NewUserType()
	for _, c := range cases {
		s, err := NewSorter(rt, c.sortBy)
		if err != nil {
			t.Fatalf("%s: %v", c.sortBy, err)
		}
		rs := sortUsers(t)
		slices.SortFunc(rs, s.Compare)
		if got := ids(rs); got != c.asc {
			t.Errorf("sortBy=%s ascending: %s, want %s", c.sortBy, got, c.asc)
		}
		slices.SortFunc(rs, func(a, b map[string]any) int { return -s.Compare(a, b) })
		want := strings.Split(c.asc, ",")
		slices.Reverse(want)
		if got := ids(rs); got != strings.Join(want, ",") {
			t.Errorf("sortBy=%s descending: %s, want %s (missing values first)", c.sortBy, got, strings.Join(want, ","))
		}
		if !s.Less(rs[len(rs)-1], rs[0]) {
			t.Errorf("sortBy=%s: Less disagrees with Compare", c.sortBy)
		}
	}
}

func TestSorterGroups(t *testing.T) {
	s, err := NewSorter(schema.NewGroupType(), "displayName")
	if err != nil {
		t.Fatal(err)
	}
	gs := []map[string]any{decode(t, `{"id":"b","displayName":"beta"}`), decode(t, `{"id":"a","displayName":"Alpha"}`), decode(t, `{"id":"c"}`)}
	slices.SortFunc(gs, s.Compare)
	if got := ids(gs); got != "a,b,c" {
		t.Errorf("got %s", got)
	}
}

func TestSorterInvalid(t *testing.T) {
	for _, sortBy := range []string{"", "nosuch", "name", "password", "name.nosuch", "urn:example:x:1.0:User:y", "name.givenName.x"} {
		_, err := NewSorter(schema.NewUserType(), sortBy)
		wantSCIMError(t, err, scimerr.InvalidValue, `"`+sortBy+`"`)
	}
}

func TestSorterDoesNotAllocate(t *testing.T) {
	rt := schema.NewUserType()
	rs := sortUsers(t)
	for _, sortBy := range []string{"userName", "emails", "name.familyName", "meta.lastModified",
		"urn:headwater:params:scim:schemas:extension:posix:1.0:User:uidNumber"} {
		s, err := NewSorter(rt, sortBy)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { s.Compare(rs[0], rs[3]) }); n != 0 {
			t.Errorf("sortBy=%s: %v allocations per comparison", sortBy, n)
		}
	}
}

func BenchmarkSortUsers(b *testing.B) {
	rt := schema.NewUserType()
	var rs []map[string]any
	for i := range 1000 {
		u := fullUser()
		u.ID = strings.Repeat("x", i%7) + string(rune('a'+i%26))
		u.Name.FamilyName = string(rune('A'+(i*7)%26)) + "son"
		rs = append(rs, UserToSCIM(u, nil, base))
	}
	s, _ := NewSorter(rt, "name.familyName")
	b.ReportAllocs()
	for b.Loop() {
		c := slices.Clone(rs)
		slices.SortFunc(c, s.Compare)
	}
}
