package wire

import (
	"bufio"
	"errors"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// These tests put go-ldap's real client on one end of a pipe and this
// package on the other, so both directions are checked against a client
// library rather than against ourselves.

type handler func(m *Message) []*Message

// pipe starts a go-ldap client connected to a loop that reads with
// ReadMessage, records every decoded message and writes what h returns.
func pipe(t *testing.T, h handler) (*ldap.Conn, <-chan *Message) {
	t.Helper()
	cc, sc := net.Pipe()
	got := make(chan *Message, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(sc)
		for {
			m, err := ReadMessage(br, 64<<10)
			if err != nil {
				return
			}
			got <- m
			for _, r := range h(m) {
				if err := WriteMessage(sc, r); err != nil {
					return
				}
			}
		}
	}()
	c := ldap.NewConn(cc, false)
	c.SetTimeout(5 * time.Second)
	c.Start()
	t.Cleanup(func() {
		c.Close()
		sc.Close()
		<-done
	})
	return c, got
}

func reply(m *Message, op any, ctls ...Control) *Message {
	return &Message{ID: m.ID, Op: op, Controls: ctls}
}

func next(t *testing.T, got <-chan *Message) *Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("server received nothing")
		return nil
	}
}

func TestInteropBind(t *testing.T) {
	c, got := pipe(t, func(m *Message) []*Message {
		b := m.Op.(*BindRequest)
		code := ResultSuccess
		switch {
		case !b.Simple:
			code = ResultAuthMethodNotSupported
		case string(b.Password) != "s3cret":
			code = ResultInvalidCredentials
		}
		return []*Message{reply(m, &BindResponse{Result: Result{Code: code, DiagnosticMessage: code.String()}})}
	})

	if err := c.Bind("uid=alice,ou=people,dc=example,dc=org", "s3cret"); err != nil {
		t.Fatalf("good bind: %v", err)
	}
	want := &BindRequest{Version: 3, Name: "uid=alice,ou=people,dc=example,dc=org", Simple: true, Password: []byte("s3cret")}
	if m := next(t, got); !reflect.DeepEqual(m.Op, want) {
		t.Errorf("decoded %+v, want %+v", m.Op, want)
	}

	err := c.Bind("uid=alice,ou=people,dc=example,dc=org", "wrong")
	if !ldap.IsErrorWithCode(err, uint16(ResultInvalidCredentials)) {
		t.Errorf("bad password: got %v, want code 49", err)
	}
	next(t, got)

	err = c.ExternalBind()
	if !ldap.IsErrorWithCode(err, uint16(ResultAuthMethodNotSupported)) {
		t.Errorf("SASL EXTERNAL: got %v, want code 7", err)
	}
	m := next(t, got).Op.(*BindRequest)
	if m.Simple || m.AuthChoice != 3 || m.SASLMechanism != "EXTERNAL" {
		t.Errorf("SASL bind decoded as %+v", m)
	}
}

func TestInteropSearch(t *testing.T) {
	c, got := pipe(t, func(m *Message) []*Message {
		return []*Message{
			reply(m, &SearchResultEntry{DN: "uid=alice,dc=example,dc=org", Attributes: []Attribute{
				{Type: "uid", Values: []string{"alice"}},
				{Type: "mail", Values: []string{"alice@example.org", "a@example.org"}},
				{Type: "jpegPhoto", Values: []string{"\x00\xff\xd8"}},
			}}),
			reply(m, &SearchResultReference{URIs: []string{"ldap://other.example.org/dc=other"}}),
			reply(m, &SearchResultDone{}),
		}
	})
	filter := "(&(objectClass=person)(|(uid=al*c*e)(mail=*@example.org))(!(cn=x))(uidNumber>=1000)(memberOf:1.2.840.113556.1.4.1941:=cn=g,dc=example,dc=org))"
	req := ldap.NewSearchRequest("dc=example,dc=org", ldap.ScopeWholeSubtree, ldap.DerefAlways, 10, 30, false,
		filter, []string{"uid", "mail", "jpegPhoto"}, []ldap.Control{ldap.NewControlManageDsaIT(true)})
	res, err := c.Search(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].DN != "uid=alice,dc=example,dc=org" {
		t.Fatalf("entries: %+v", res.Entries)
	}
	e := res.Entries[0]
	if v := e.GetAttributeValues("mail"); !reflect.DeepEqual(v, []string{"alice@example.org", "a@example.org"}) {
		t.Errorf("mail = %q", v)
	}
	if v := e.GetRawAttributeValue("jpegPhoto"); string(v) != "\x00\xff\xd8" {
		t.Errorf("binary value = %q", v)
	}
	if !reflect.DeepEqual(res.Referrals, []string{"ldap://other.example.org/dc=other"}) {
		t.Errorf("referrals = %q", res.Referrals)
	}

	m := next(t, got)
	s := m.Op.(*SearchRequest)
	if s.BaseDN != "dc=example,dc=org" || s.Scope != ScopeWholeSubtree || s.DerefAliases != DerefAlways ||
		s.SizeLimit != 10 || s.TimeLimit != 30 || s.TypesOnly || !reflect.DeepEqual(s.Attributes, []string{"uid", "mail", "jpegPhoto"}) {
		t.Errorf("decoded %+v", s)
	}
	if s.FilterText() != filter {
		t.Errorf("FilterText = %s, want %s", s.FilterText(), filter)
	}
	if len(m.Controls) != 1 || m.Controls[0].OID != OIDManageDsaIT || !m.Controls[0].Criticality {
		t.Errorf("controls = %+v", m.Controls)
	}
}

// TestInteropPaging drives go-ldap's SearchWithPaging, which loops on the
// cookie our PagedResults control returns.
func TestInteropPaging(t *testing.T) {
	const total = 25
	c, _ := pipe(t, func(m *Message) []*Message {
		ctl, ok := FindControl(m.Controls, OIDPagedResults)
		if !ok {
			return []*Message{reply(m, &SearchResultDone{Result{Code: ResultProtocolError}})}
		}
		pr, err := ParsePagedResults(ctl)
		if err != nil {
			return []*Message{reply(m, &SearchResultDone{Result{Code: ResultProtocolError, DiagnosticMessage: err.Error()}})}
		}
		start := 0
		if len(pr.Cookie) > 0 {
			start, _ = strconv.Atoi(string(pr.Cookie))
		}
		var out []*Message
		end := min(start+int(pr.Size), total)
		for i := start; i < end; i++ {
			out = append(out, reply(m, &SearchResultEntry{DN: "uid=u" + strconv.Itoa(i) + ",dc=x"}))
		}
		var cookie []byte
		if end < total {
			cookie = []byte(strconv.Itoa(end))
		}
		return append(out, reply(m, &SearchResultDone{}, PagedResults{Size: total, Cookie: cookie}.Control()))
	})
	res, err := c.SearchWithPaging(ldap.NewSearchRequest("dc=x", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=*)", nil, nil), 7)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range res.Entries {
		if seen[e.DN] {
			t.Errorf("duplicate %s", e.DN)
		}
		seen[e.DN] = true
	}
	if len(seen) != total {
		t.Errorf("got %d distinct entries, want %d", len(seen), total)
	}
}

func TestInteropCompare(t *testing.T) {
	c, got := pipe(t, func(m *Message) []*Message {
		r := m.Op.(*CompareRequest)
		code := ResultCompareFalse
		if r.Value == "admins" {
			code = ResultCompareTrue
		}
		return []*Message{reply(m, &CompareResponse{Result{Code: code}})}
	})
	for _, tc := range []struct {
		value string
		want  bool
	}{{"admins", true}, {"users", false}} {
		ok, err := c.Compare("cn=g,dc=x", "cn", tc.value)
		if err != nil || ok != tc.want {
			t.Errorf("Compare(%s) = %v, %v; want %v", tc.value, ok, err, tc.want)
		}
		want := &CompareRequest{DN: "cn=g,dc=x", Attribute: "cn", Value: tc.value}
		if m := next(t, got); !reflect.DeepEqual(m.Op, want) {
			t.Errorf("decoded %+v", m.Op)
		}
	}
}

// TestInteropWrites checks each write decodes and that a refusal with a
// diagnostic reaches the client intact.
func TestInteropWrites(t *testing.T) {
	const diag = "read-only: use SCIM or the admin API"
	c, got := pipe(t, func(m *Message) []*Message {
		r := Result{Code: ResultUnwillingToPerform, DiagnosticMessage: diag}
		switch m.Op.(type) {
		case *AddRequest:
			return []*Message{reply(m, &AddResponse{r})}
		case *ModifyRequest:
			return []*Message{reply(m, &ModifyResponse{r})}
		case *DeleteRequest:
			return []*Message{reply(m, &DeleteResponse{r})}
		case *ModifyDNRequest:
			return []*Message{reply(m, &ModifyDNResponse{r})}
		}
		return nil
	})
	add := ldap.NewAddRequest("uid=bob,dc=x", nil)
	add.Attribute("objectClass", []string{"top", "person"})
	add.Attribute("cn", []string{"Bob"})
	mod := ldap.NewModifyRequest("uid=bob,dc=x", nil)
	mod.Replace("mail", []string{"bob@x"})
	mod.Delete("description", nil)
	mod.Increment("uidNumber", "1")

	cases := []struct {
		name string
		do   func() error
		want any
	}{
		{"add", func() error { return c.Add(add) }, &AddRequest{Entry: "uid=bob,dc=x", Attributes: []Attribute{
			{Type: "objectClass", Values: []string{"top", "person"}}, {Type: "cn", Values: []string{"Bob"}}}}},
		{"modify", func() error { return c.Modify(mod) }, &ModifyRequest{Object: "uid=bob,dc=x", Changes: []Change{
			{ModifyReplace, Attribute{"mail", []string{"bob@x"}}},
			{ModifyDelete, Attribute{"description", nil}},
			{ModifyIncrement, Attribute{"uidNumber", []string{"1"}}}}}},
		{"delete", func() error { return c.Del(ldap.NewDelRequest("uid=bob,dc=x", nil)) }, &DeleteRequest{DN: "uid=bob,dc=x"}},
		{"modrdn", func() error { return c.ModifyDN(ldap.NewModifyDNRequest("uid=bob,dc=x", "uid=rob", true, "")) },
			&ModifyDNRequest{Entry: "uid=bob,dc=x", NewRDN: "uid=rob", DeleteOldRDN: true}},
		{"moddn", func() error {
			return c.ModifyDN(ldap.NewModifyDNRequest("uid=bob,dc=x", "uid=bob", false, "ou=old,dc=x"))
		},
			&ModifyDNRequest{Entry: "uid=bob,dc=x", NewRDN: "uid=bob", NewSuperior: "ou=old,dc=x", HasNewSuperior: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var le *ldap.Error
			if !errors.As(err, &le) || le.ResultCode != uint16(ResultUnwillingToPerform) || le.Err.Error() != diag {
				t.Errorf("client got %v, want 53 %q", err, diag)
			}
			if m := next(t, got); !reflect.DeepEqual(m.Op, tc.want) {
				t.Errorf("decoded %+v, want %+v", m.Op, tc.want)
			}
		})
	}
}

func TestInteropExtended(t *testing.T) {
	c, got := pipe(t, func(m *Message) []*Message {
		x := m.Op.(*ExtendedRequest)
		switch x.Name {
		case OIDWhoAmI:
			return []*Message{reply(m, WhoAmIResponse("dn:uid=alice,dc=x"))}
		case OIDPasswordModify:
			pm, err := ParsePasswordModifyRequest(x)
			if err != nil {
				return []*Message{reply(m, &ExtendedResponse{Result: Result{Code: ResultProtocolError}})}
			}
			if pm.NewPassword == nil {
				return []*Message{reply(m, PasswordModifyResponse(Result{}, []byte("gen-P4ss")))}
			}
			return []*Message{reply(m, PasswordModifyResponse(Result{}, nil))}
		}
		return []*Message{reply(m, &ExtendedResponse{Result: Result{Code: ResultProtocolError, DiagnosticMessage: "unsupported extended operation"}})}
	})

	who, err := c.WhoAmI(nil)
	if err != nil || who.AuthzID != "dn:uid=alice,dc=x" {
		t.Errorf("WhoAmI = %+v, %v", who, err)
	}
	if x := next(t, got).Op.(*ExtendedRequest); x.Name != OIDWhoAmI || x.HasValue {
		t.Errorf("WhoAmI decoded as %+v", x)
	}

	res, err := c.PasswordModify(ldap.NewPasswordModifyRequest("uid=alice,dc=x", "old", ""))
	if err != nil || res.GeneratedPassword != "gen-P4ss" {
		t.Errorf("PasswordModify = %+v, %v", res, err)
	}
	pm, err := ParsePasswordModifyRequest(next(t, got).Op.(*ExtendedRequest))
	want := PasswordModifyRequest{UserIdentity: "uid=alice,dc=x", HasUserIdentity: true, OldPassword: []byte("old")}
	if err != nil || !reflect.DeepEqual(pm, want) {
		t.Errorf("parsed %#v, %v", pm, err)
	}

	res, err = c.PasswordModify(ldap.NewPasswordModifyRequest("", "", "n3w"))
	if err != nil || res.GeneratedPassword != "" {
		t.Errorf("PasswordModify without generation = %+v, %v", res, err)
	}
	next(t, got)

	val := ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, "\x01\x02", "")
	_, err = c.Extended(ldap.NewExtendedRequest("1.2.3.4", val))
	if !ldap.IsErrorWithCode(err, uint16(ResultProtocolError)) {
		t.Errorf("unknown extended op: %v", err)
	}
	if x := next(t, got).Op.(*ExtendedRequest); x.Name != "1.2.3.4" || !x.HasValue || string(x.Value) != "\x01\x02" {
		t.Errorf("decoded %#v value %q", x, x.Value)
	}
}

func TestInteropUnbind(t *testing.T) {
	c, got := pipe(t, func(*Message) []*Message { return nil })
	if err := c.Unbind(); err != nil {
		t.Fatal(err)
	}
	if m := next(t, got); !reflect.DeepEqual(m.Op, &UnbindRequest{}) {
		t.Errorf("decoded %+v", m.Op)
	}
}
