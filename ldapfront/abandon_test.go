package ldapfront_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/ldapfront/wire"
)

// TestAbandon starts a search over 2,500 users and abandons it at once:
// the search stops without a SearchResultDone (RFC 4511 §4.11), and the
// connection goes on serving.
func TestAbandon(t *testing.T) {
	f := setup(t)
	var users []*authority.User
	for i := 0; i < 2500; i++ {
		users = append(users, &authority.User{UserName: fmt.Sprintf("ab%04d", i)})
	}
	f.auth.CreateUsers(context.Background(), users, nil)
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	send := func(m *wire.Message) {
		if err := wire.WriteMessage(nc, m); err != nil {
			t.Fatal(err)
		}
	}
	send(&wire.Message{ID: 1, Op: &wire.BindRequest{Version: 3, Name: "cn=gitea,ou=services," + base, Simple: true, Password: []byte("Gitea-Bind-2026")}})
	// wire reads requests; a response comes back as UnknownOp with its tag.
	tag := func(m *wire.Message) wire.OpTag {
		if u, ok := m.Op.(*wire.UnknownOp); ok {
			return u.Tag
		}
		return -1
	}
	if m, err := wire.ReadMessage(br, 0); err != nil || tag(m) != wire.TagBindResponse {
		t.Fatalf("bind: %+v %v", m, err)
	}
	filter, err := ldap.CompileFilter("(objectClass=inetOrgPerson)")
	if err != nil {
		t.Fatal(err)
	}
	// The search and its abandon travel together, so the abandon is read
	// while the search is still rendering its first entries.
	search := &wire.Message{ID: 2, Op: &wire.SearchRequest{BaseDN: base, Scope: wire.ScopeWholeSubtree, Filter: filter, Attributes: []string{"uid"}}}
	abandon := &wire.Message{ID: 3, Op: &wire.AbandonRequest{MessageID: 2}}
	whoami := &wire.Message{ID: 4, Op: &wire.ExtendedRequest{Name: wire.OIDWhoAmI}}
	var batch []byte
	for _, m := range []*wire.Message{search, abandon, whoami} {
		b, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, b...)
	}
	if _, err := nc.Write(batch); err != nil {
		t.Fatal(err)
	}
	entries, done := 0, false
	for {
		m, err := wire.ReadMessage(br, 0)
		if err != nil {
			t.Fatalf("reading: %v (after %d entries)", err, entries)
		}
		switch tag(m) {
		case wire.TagSearchResultEntry:
			entries++
		case wire.TagSearchResultDone:
			done = true
		case wire.TagExtendedResponse:
			if m.ID != 4 {
				t.Fatalf("an extended response to message %d", m.ID)
			}
			if done || entries >= 2500 {
				t.Fatalf("the abandoned search ran to completion (%d entries, done %v)", entries, done)
			}
			// The search may still be unwinding; give it a moment and make
			// sure no late Done arrives.
			nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			for {
				m, err := wire.ReadMessage(br, 0)
				if err != nil {
					return
				}
				if tag(m) == wire.TagSearchResultDone {
					t.Fatal("a SearchResultDone came for the abandoned search")
				}
			}
		}
	}
}
