package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// requestCases are one valid message per request type; they double as the
// fuzz seeds in testdata.
func requestCases(t testing.TB) map[string]*Message {
	filter, err := ldap.CompileFilter("(&(objectClass=person)(|(uid=a*b*c)(cn~=bob))(!(mail=*))(uidNumber<=5)(:dn:2.5.13.5:=x))")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Message{
		"bind_simple":   {ID: 1, Op: &BindRequest{Version: 3, Name: "cn=admin,dc=x", Simple: true, Password: []byte("pw")}},
		"bind_sasl":     {ID: 2, Op: &BindRequest{Version: 3, AuthChoice: 3, SASLMechanism: "PLAIN", SASLCredentials: []byte("\x00u\x00p"), HasSASLCredentials: true}},
		"unbind":        {ID: 3, Op: &UnbindRequest{}},
		"search":        {ID: 4, Op: &SearchRequest{BaseDN: "dc=x", Scope: ScopeWholeSubtree, SizeLimit: 5, TimeLimit: 9, TypesOnly: true, Filter: filter, Attributes: []string{"cn", "+"}}},
		"modify":        {ID: 5, Op: &ModifyRequest{Object: "uid=a,dc=x", Changes: []Change{{ModifyAdd, Attribute{"mail", []string{"a@x"}}}}}},
		"add":           {ID: 6, Op: &AddRequest{Entry: "uid=a,dc=x", Attributes: []Attribute{{"objectClass", []string{"person"}}}}},
		"delete":        {ID: 7, Op: &DeleteRequest{DN: "uid=a,dc=x"}},
		"moddn":         {ID: 8, Op: &ModifyDNRequest{Entry: "uid=a,dc=x", NewRDN: "uid=b", NewSuperior: "", HasNewSuperior: true}},
		"compare":       {ID: 9, Op: &CompareRequest{DN: "cn=g,dc=x", Attribute: "member", Value: "uid=a,dc=x"}},
		"abandon":       {ID: 10, Op: &AbandonRequest{MessageID: 4}},
		"whoami":        {ID: 11, Op: &ExtendedRequest{Name: OIDWhoAmI}},
		"passwd":        {ID: 12, Op: &ExtendedRequest{Name: OIDPasswordModify, HasValue: true, Value: PasswordModifyRequest{OldPassword: []byte("o"), NewPassword: []byte("n")}.Value()}},
		"starttls":      {ID: 13, Op: &ExtendedRequest{Name: OIDStartTLS}},
		"search_paged":  {ID: 14, Op: &SearchRequest{BaseDN: "dc=x", Scope: ScopeSingleLevel, Filter: filter}, Controls: []Control{PagedResults{Size: 100, Cookie: []byte("c")}.Control(), {OID: "1.2.3", Criticality: true}}},
		"unknown_op":    {ID: 15, Op: &DeleteRequest{DN: "placeholder"}}, // rewritten to tag 30 in seeds
		"empty_and_or":  {ID: 16, Op: &SearchRequest{Filter: mustFilter(t, "(&)")}},
		"extended_data": {ID: 17, Op: &ExtendedRequest{Name: "1.2.3.4", Value: []byte{}, HasValue: true}},
	}
}

func mustFilter(t testing.TB, s string) *ber.Packet {
	f, err := ldap.CompileFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decode(t testing.TB, b []byte) *Message {
	t.Helper()
	m, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)), 0)
	if err != nil {
		t.Fatalf("decode % x: %v", b, err)
	}
	return m
}

func TestRequestRoundTrip(t *testing.T) {
	for name, in := range requestCases(t) {
		t.Run(name, func(t *testing.T) {
			out := decode(t, encode(t, in))
			if s, ok := out.Op.(*SearchRequest); ok {
				want, _ := ldap.DecompileFilter(in.Op.(*SearchRequest).Filter)
				if s.FilterText() != want {
					t.Errorf("FilterText %q, want %q", s.FilterText(), want)
				}
				// Compare filters by encoding; ber.Packet trees differ in
				// descriptions.
				if !bytes.Equal(s.Filter.Bytes(), in.Op.(*SearchRequest).Filter.Bytes()) {
					t.Error("filter bytes changed")
				}
				s.Filter = nil
				in.Op.(*SearchRequest).Filter = nil
			}
			if !reflect.DeepEqual(out, in) {
				t.Errorf("got %#v\nwant %#v", out, in)
			}
		})
	}
}

func TestFilterShapesRefused(t *testing.T) {
	cases := map[string][]byte{
		"not with two":     {0xa2, 0x04, 0x87, 0x00, 0x87, 0x00},
		"equality 1 child": {0xa3, 0x02, 0x04, 0x00},
		"substr no parts":  {0xa4, 0x04, 0x04, 0x00, 0x30, 0x00},
		"substr final mid": {0xa4, 0x08, 0x04, 0x00, 0x30, 0x04, 0x82, 0x00, 0x81, 0x00},
		"ext no value":     {0xa9, 0x02, 0x81, 0x00},
		"unknown choice":   {0x8a, 0x00},
		"universal":        {0x04, 0x00},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := ber.DecodePacketErr(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateFilter(p); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestResponsesParseInGoLDAP hands our encodings to go-ldap's own result
// decoder.
func TestResponsesParseInGoLDAP(t *testing.T) {
	cases := []struct {
		op   any
		code ResultCode
	}{
		{&BindResponse{Result: Result{Code: ResultInvalidCredentials, DiagnosticMessage: "no"}, ServerSASLCreds: []byte("c")}, 49},
		{&SearchResultDone{Result{Code: ResultSizeLimitExceeded, MatchedDN: "dc=x"}}, 4},
		{&ModifyResponse{Result{Code: ResultUnwillingToPerform}}, 53},
		{&CompareResponse{Result{Code: ResultCompareTrue}}, 6},
		{&ExtendedResponse{Result: Result{Code: ResultReferral, Referral: []string{"ldap://a/"}}, Name: "1.2", Value: []byte{1}}, 10},
		{NoticeOfDisconnection(ResultProtocolError, "bye").Op, 2},
	}
	for _, tc := range cases {
		p, err := ber.DecodePacketErr(encode(t, &Message{ID: 3, Op: tc.op}))
		if err != nil {
			t.Fatal(err)
		}
		err = ldap.GetLDAPError(p)
		if !ldap.IsErrorWithCode(err, uint16(tc.code)) {
			t.Errorf("%T: go-ldap says %v, want %d", tc.op, err, tc.code)
		}
	}
	nod := encode(t, NoticeOfDisconnection(ResultUnavailable, "shutting down"))
	p, _ := ber.DecodePacketErr(nod)
	if p.Children[0].Value.(int64) != 0 || string(p.Children[1].Children[3].Data.Bytes()) != OIDNoticeOfDisconnection {
		t.Errorf("notice of disconnection shape: % x", nod)
	}
	if _, err := (&Message{Op: &UnknownOp{}}).Bytes(); err == nil {
		t.Error("UnknownOp encoded")
	}
}

func TestParsePasswordModify(t *testing.T) {
	cases := []struct {
		name  string
		value []byte
		has   bool
		want  PasswordModifyRequest
		fail  bool
	}{
		{name: "absent value", want: PasswordModifyRequest{}},
		{name: "empty sequence", value: []byte{0x30, 0x00}, has: true},
		{name: "all", value: PasswordModifyRequest{UserIdentity: "u:a", HasUserIdentity: true, OldPassword: []byte{}, NewPassword: []byte("n")}.Value(), has: true,
			want: PasswordModifyRequest{UserIdentity: "u:a", HasUserIdentity: true, OldPassword: []byte{}, NewPassword: []byte("n")}},
		{name: "out of order", value: []byte{0x30, 0x04, 0x82, 0x00, 0x80, 0x00}, has: true, fail: true},
		{name: "repeated", value: []byte{0x30, 0x04, 0x81, 0x00, 0x81, 0x00}, has: true, fail: true},
		{name: "trailing", value: []byte{0x30, 0x00, 0x00}, has: true, fail: true},
		{name: "not ber", value: []byte("hunter2"), has: true, fail: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePasswordModifyRequest(&ExtendedRequest{Name: OIDPasswordModify, Value: tc.value, HasValue: tc.has})
			if (err != nil) != tc.fail || (!tc.fail && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("got %#v, %v", got, err)
			}
		})
	}
	// go-ldap's generated-password decoder reads our response value.
	if v := PasswordModifyResponseValue([]byte("g")); !bytes.Equal(v, []byte{0x30, 0x03, 0x80, 0x01, 'g'}) {
		t.Errorf("response value % x", v)
	}
}

func TestPagedResultsControl(t *testing.T) {
	c := PagedResults{Size: 42, Cookie: []byte("xyz")}.Control()
	got, err := ParsePagedResults(c)
	if err != nil || got.Size != 42 || string(got.Cookie) != "xyz" {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	lc, err := c.Decode()
	if p, ok := lc.(*ldap.ControlPaging); err != nil || !ok || p.PagingSize != 42 || string(p.Cookie) != "xyz" {
		t.Errorf("go-ldap decodes %#v, %v", lc, err)
	}
	for _, bad := range []Control{
		{OID: OIDPagedResults},
		{OID: OIDPagedResults, HasValue: true, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}},
		{OID: OIDPagedResults, HasValue: true, Value: []byte{0x30, 0x05, 0x02, 0x01, 0xff, 0x04, 0x00}},
		{OID: "1.2.3", HasValue: true, Value: []byte{0x30, 0x00}},
	} {
		if _, err := ParsePagedResults(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestSecretsNeverFormatted(t *testing.T) {
	const secret = "hunter2-very-secret"
	bind := &BindRequest{Version: 3, Name: "cn=a", Simple: true, Password: []byte(secret)}
	sasl := BindRequest{Version: 3, AuthChoice: 3, SASLMechanism: "PLAIN", SASLCredentials: []byte(secret)}
	pm := PasswordModifyRequest{OldPassword: []byte(secret), NewPassword: []byte(secret)}
	ext := &ExtendedRequest{Name: OIDPasswordModify, Value: pm.Value(), HasValue: true}

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, v := range []any{bind, sasl, pm, ext, *bind} {
		log.Info("req", "req", v)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, secret) || strings.Contains(s, "hunter2") {
				t.Errorf("%s of %T leaks: %s", verb, v, s)
			}
		}
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("slog leaks: %s", logs.String())
	}
	var rec map[string]any
	if err := json.Unmarshal(bytes.SplitN(logs.Bytes(), []byte("\n"), 2)[0], &rec); err != nil || rec["req"].(map[string]any)["name"] != "cn=a" {
		t.Errorf("bind log record %v, %v", rec, err)
	}
}
