package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
)

// State namespaces the agent machinery keeps in the store.
const (
	nsEnrol     = "agent-enrol"     // token digest -> machine (directory) name
	nsCert      = "agent-cert"      // machine -> its current certificate (PEM)
	nsSeen      = "agent-seen"      // machine -> last poll (RFC 3339)
	nsJobs      = "agent-jobs"      // machine/jobID -> Job
	nsResults   = "agent-results"   // machine/jobID -> Result
	nsInventory = "agent-inventory" // machine -> Inventory
)

// TokenPrefix starts every enrolment token.
const TokenPrefix = "hwe_"

// NewEnrolmentToken makes a one-time token for machine (a directory of
// kind local), valid for ttl. The token ends with the first 16 hex digits
// of the agent CA's fingerprint, which the agent checks before it trusts
// the server.
func NewEnrolmentToken(ctx context.Context, a *authority.Authority, ca *CA, machine string, ttl time.Duration) (string, error) {
	d, err := a.GetDirectory(ctx, machine)
	if err != nil {
		return "", err
	}
	if d.Kind != KindName {
		return "", fmt.Errorf("directory %s is of kind %s; enrolment is for kind %s", machine, d.Kind, KindName)
	}
	b := make([]byte, 24)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	if err := a.PutState(ctx, nsEnrol, digest(secret), []byte(machine), ttl); err != nil {
		return "", err
	}
	return TokenPrefix + secret + "." + ca.Fingerprint()[:16], nil
}

func digest(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

// Revoke refuses the machine's certificate from now on (it must enrol
// again with a new token).
func Revoke(ctx context.Context, a *authority.Authority, machine string) error {
	return a.DeleteState(ctx, nsCert, machine)
}

// Machine is an enrolled machine as the admin API lists it.
type Machine struct {
	Name     string    `json:"name"`
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
	Accounts int       `json:"accounts"`
	Enrolled bool      `json:"enrolled"`
}

// OnlineWithin is how recent the last poll must be for a machine to count
// as online (agents poll at least every 25 s); OfflineRetry is when a
// change for an offline machine is tried again. Variables for tests.
var (
	OnlineWithin = time.Minute
	OfflineRetry = 30 * time.Second
)

// Machines lists the directories of kind local with their agents' state.
func Machines(ctx context.Context, a *authority.Authority) ([]Machine, error) {
	ds, err := a.ListDirectories(ctx)
	if err != nil {
		return nil, err
	}
	var out []Machine
	for _, d := range ds {
		if d.Kind != KindName {
			continue
		}
		m := Machine{Name: d.Name}
		if _, err := a.GetState(ctx, nsCert, d.Name); err == nil {
			m.Enrolled = true
		}
		m.LastSeen = lastSeen(ctx, a, d.Name)
		m.Online = !m.LastSeen.IsZero() && time.Since(m.LastSeen) < OnlineWithin
		if inv, err := inventory(ctx, a, d.Name); err == nil {
			m.Accounts = len(inv.Accounts)
		}
		out = append(out, m)
	}
	return out, nil
}

func lastSeen(ctx context.Context, a *authority.Authority, machine string) time.Time {
	b, err := a.GetState(ctx, nsSeen, machine)
	if err != nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, string(b))
	return t
}

func inventory(ctx context.Context, a *authority.Authority, machine string) (*Inventory, error) {
	b, err := a.GetState(ctx, nsInventory, machine)
	if err != nil {
		return nil, err
	}
	inv := new(Inventory)
	return inv, json.Unmarshal(b, inv)
}

// Server answers agents on the agent listener.
type Server struct {
	auth *authority.Authority
	ca   *CA
	log  *slog.Logger
	mux  *http.ServeMux
}

// NewServer builds the agent endpoints.
func NewServer(a *authority.Authority, ca *CA, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{auth: a, ca: ca, log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST "+PathEnroll, s.enroll)
	s.mux.HandleFunc("GET "+PathJobs, s.machine(s.jobs))
	s.mux.HandleFunc("POST "+PathResults, s.machine(s.result))
	s.mux.HandleFunc("POST "+PathInventory, s.machine(s.inventory))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var in EnrollRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, "the body is not an enrolment request")
		return
	}
	secret, _, _ := strings.Cut(strings.TrimPrefix(in.Token, TokenPrefix), ".")
	raw, err := s.auth.TakeState(r.Context(), nsEnrol, digest(secret))
	if err != nil {
		fail(w, http.StatusForbidden, "the enrolment token is unknown, used or expired; make a new one with `headwater directory enrol MACHINE`")
		return
	}
	machine := string(raw)
	_, certPEM, err := s.ca.IssueClient([]byte(in.CSR), machine)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.auth.PutState(r.Context(), nsCert, machine, certPEM, 400*24*time.Hour); err != nil {
		fail(w, http.StatusServiceUnavailable, "try again")
		return
	}
	s.log.Info("agent enrolled", "machine", machine, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(EnrollResponse{Machine: machine, Certificate: string(certPEM), CA: string(s.ca.PEM())})
}

// machine authenticates an agent by its client certificate: issued by the
// agent CA (checked by TLS) and still the machine's current one (a
// revoked or re-enrolled machine's old certificate is refused).
func (s *Server) machine(next func(w http.ResponseWriter, r *http.Request, machine string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			fail(w, http.StatusUnauthorized, "a client certificate from `headwater agent enroll` is required")
			return
		}
		leaf := r.TLS.VerifiedChains[0][0]
		machine := leaf.Subject.CommonName
		cur, err := s.auth.GetState(r.Context(), nsCert, machine)
		if err != nil || !sameCert(cur, leaf) {
			s.log.Warn("agent certificate refused (revoked or replaced)", "machine", machine, "remote", r.RemoteAddr)
			fail(w, http.StatusForbidden, "this machine's certificate was revoked or replaced; enrol again")
			return
		}
		next(w, r, machine)
	}
}

func sameCert(pemBytes []byte, c *x509.Certificate) bool {
	b, _ := pem.Decode(pemBytes)
	return b != nil && string(b.Bytes) == string(c.Raw)
}

// jobs is a long poll: it answers as soon as jobs are queued for the
// machine, or after `wait` seconds (at most 25) with none. Every poll is a
// heartbeat.
func (s *Server) jobs(w http.ResponseWriter, r *http.Request, machine string) {
	wait := 20 * time.Second
	if v, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil && v >= 0 && v <= 25*time.Second {
		wait = v
	}
	deadline := time.Now().Add(wait)
	for {
		s.auth.PutState(r.Context(), nsSeen, machine, []byte(time.Now().UTC().Format(time.RFC3339Nano)), 30*24*time.Hour)
		items, err := s.auth.ListState(r.Context(), nsJobs, machine+"/")
		if err != nil {
			fail(w, http.StatusServiceUnavailable, "try again")
			return
		}
		if len(items) > 0 || !time.Now().Before(deadline) {
			jobs := make([]Job, 0, len(items))
			for _, it := range items {
				var j Job
				if json.Unmarshal(it.Value, &j) == nil {
					jobs = append(jobs, j)
				}
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(jobs)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) result(w http.ResponseWriter, r *http.Request, machine string) {
	var res Result
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&res); err != nil || res.ID == "" {
		fail(w, http.StatusBadRequest, "the body is not a job result")
		return
	}
	b, _ := json.Marshal(res)
	if err := s.auth.PutState(r.Context(), nsResults, machine+"/"+res.ID, b, time.Hour); err != nil {
		fail(w, http.StatusServiceUnavailable, "try again")
		return
	}
	s.auth.DeleteState(r.Context(), nsJobs, machine+"/"+res.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) inventory(w http.ResponseWriter, r *http.Request, machine string) {
	var inv Inventory
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&inv); err != nil {
		fail(w, http.StatusBadRequest, "the body is not an inventory")
		return
	}
	b, _ := json.Marshal(inv)
	if err := s.auth.PutState(r.Context(), nsInventory, machine, b, 30*24*time.Hour); err != nil {
		fail(w, http.StatusServiceUnavailable, "try again")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var errNoCert = errors.New("the machine has not enrolled")
