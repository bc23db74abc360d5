package ad

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/connectors"
)

// List pages through an OU of 1200 accounts (three pages of 500) and sees
// each once.
func TestListPaging(t *testing.T) {
	const n = 1200
	run := unique()
	// The accounts are made directly, four connections at a time: only
	// List is under test, and Create's three requests each would be slow.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := dialAdmin()
			if err != nil {
				errs <- err
				return
			}
			defer l.Close()
			for i := w; i < n; i += 4 {
				name := fmt.Sprintf("b%s%04d", run, i)
				req := ldap.NewAddRequest("CN="+name+","+bulkOU(), nil)
				req.Attribute("objectClass", []string{"user"})
				req.Attribute("sAMAccountName", []string{name})
				req.Attribute("userPrincipalName", []string{name + "@" + domain})
				req.Attribute("userAccountControl", []string{"514"})
				if err := l.Add(req); err != nil {
					errs <- fmt.Errorf("add %s: %w", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	c := newConn(t, func(s *Settings) { s.ImportOUs = []string{bulkOU()} })
	if c.pageSize != 500 {
		t.Fatalf("page size %d, want 500", c.pageSize)
	}
	seen := map[string]int{}
	logins := map[string]bool{}
	err := c.List(t.Context(), func(a connectors.Account) error {
		seen[a.ID]++
		if strings.HasPrefix(a.Login, "b"+run) {
			logins[a.Login] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(logins) != n {
		t.Errorf("List saw %d of the %d accounts", len(logins), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("List saw %s %d times", id, k)
		}
	}

	// fn's error stops the listing in the middle of a page and is
	// returned as is; the connection stays usable.
	stop := errors.New("stop")
	calls := 0
	err = c.List(t.Context(), func(connectors.Account) error {
		calls++
		if calls == 700 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 700 {
		t.Errorf("List stopped with %v after %d calls; want stop after 700", err, calls)
	}
	if err := c.Test(t.Context()); err != nil {
		t.Errorf("Test after an abandoned List: %v", err)
	}
}

// The domain's own accounts in CN=Users (Administrator, Guest, krbtgt)
// are not offered for import.
func TestListLeavesOutBuiltIns(t *testing.T) {
	c := newConn(t, func(s *Settings) { s.ImportOUs = []string{"CN=Users," + dc.BaseDN} })
	var logins []string
	if err := c.List(t.Context(), func(a connectors.Account) error {
		logins = append(logins, strings.ToLower(a.Login))
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, l := range logins {
		for _, b := range []string{"administrator", "guest", "krbtgt"} {
			if l == b || strings.HasPrefix(l, b+"@") {
				t.Errorf("List offered the built-in account %s", l)
			}
		}
	}
}

func TestBuiltIn(t *testing.T) {
	sid := func(rid uint32) string {
		b := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}
		return string(binary.LittleEndian.AppendUint32(b, rid))
	}
	entry := func(dn string, critical bool, rid uint32) *ldap.Entry {
		attrs := map[string][]string{"objectSid": {sid(rid)}}
		if critical {
			attrs["isCriticalSystemObject"] = []string{"TRUE"}
		}
		return ldap.NewEntry(dn, attrs)
	}
	cases := []struct {
		e    *ldap.Entry
		want bool
	}{
		{entry("CN=Administrator,CN=Users,DC=x", true, 500), true},
		{entry("CN=Administrator,OU=Admins,DC=x", true, 500), false},
		{entry("CN=krbtgt,OU=Admins,DC=x", true, 502), true},
		{entry("CN=Guest,CN=Users,DC=x", true, 501), true},
		{entry("CN=Ada,OU=Staff,DC=x", false, 1105), false},
	}
	for _, tc := range cases {
		if got := builtIn(tc.e); got != tc.want {
			t.Errorf("builtIn(%s) = %v, want %v", tc.e.DN, got, tc.want)
		}
	}
}
