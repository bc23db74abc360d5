// Package agent is the Headwater agent: it runs on a machine, enrols once
// with a one-time token, then keeps a mutual-TLS connection to Headwater,
// applies jobs for the machine's local accounts with the machine's own
// tools (agent/driver) and reports each result and the local accounts.
package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/headwater/headwater/agent/driver"
	"github.com/headwater/headwater/connectors/local"
)

// Files in the agent's state directory (mode 0700; the key 0600).
const (
	fileKey    = "agent.key"
	fileCert   = "agent.crt"
	fileCA     = "ca.crt"
	fileServer = "server"
)

// Enroll exchanges token for a certificate from the server at serverURL
// (the agent listener, https://host:port) and keeps key, certificate, CA
// and URL in dir. The server's certificate must chain to a CA whose
// fingerprint matches the one the token ends with.
func Enroll(ctx context.Context, serverURL, token, dir string) (machine string, err error) {
	secret, fp, ok := strings.Cut(token, ".")
	if !ok || !strings.HasPrefix(secret, local.TokenPrefix) || len(fp) != 16 {
		return "", errors.New("this is not an enrolment token (it looks like hwe_....<16 hex digits>)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "headwater-agent"}}, key)
	if err != nil {
		return "", err
	}
	// Trust the server only if its CA is the one the token names.
	pinned := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) < 2 {
				return errors.New("the server sent no CA certificate")
			}
			ca, err := x509.ParseCertificate(raw[len(raw)-1])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(ca.Raw)
			if hex.EncodeToString(sum[:])[:16] != fp {
				return errors.New("the server's agent CA does not match the enrolment token: wrong server, or someone in between")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool})
			return err
		}}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: pinned}}
	body, _ := json.Marshal(local.EnrollRequest{Token: token, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(serverURL, "/")+local.PathEnroll, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("enrolling with %s: %w", serverURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(data, &e)
		return "", fmt.Errorf("enrolment refused (%s): %s", resp.Status, e.Error)
	}
	var out local.EnrollResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return "", err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	for name, content := range map[string][]byte{fileKey: keyPEM, fileCert: []byte(out.Certificate), fileCA: []byte(out.CA), fileServer: []byte(serverURL)} {
		if err := writeFile(filepath.Join(dir, name), content); err != nil {
			return "", err
		}
	}
	return out.Machine, nil
}

// writeFile writes atomically (temporary file, fsync, rename).
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Agent is an enrolled agent.
type Agent struct {
	server string
	hc     *http.Client
	key    *rsa.PrivateKey
	drv    driver.Driver
	log    *slog.Logger
	// Poll is the long-poll wait (default 20 s); Inventory the period of
	// inventory reports (default 5 min).
	Poll, Inventory time.Duration
}

// Load reads an enrolled agent's state from dir.
func Load(dir string, drv driver.Driver, log *slog.Logger) (*Agent, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("%w (enrol first: headwater agent enroll)", err)
		}
		return b, nil
	}
	keyPEM, err := read(fileKey)
	if err != nil {
		return nil, err
	}
	certPEM, err := read(fileCert)
	if err != nil {
		return nil, err
	}
	caPEM, err := read(fileCA)
	if err != nil {
		return nil, err
	}
	server, err := read(fileServer)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := pair.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the agent key is not RSA")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the stored CA is not PEM")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{pair}}}
	return &Agent{server: strings.TrimRight(string(server), "/"), hc: &http.Client{Transport: tr, Timeout: 60 * time.Second},
		key: key, drv: drv, log: log, Poll: 20 * time.Second, Inventory: 5 * time.Minute}, nil
}

// Run polls for jobs until ctx ends, reconnecting with backoff (1 s
// doubling to 1 min) when the server is unreachable; a refused
// certificate (revoked) ends it with an error.
func (a *Agent) Run(ctx context.Context) error {
	backoff := time.Second
	var nextInventory time.Time
	for ctx.Err() == nil {
		if !time.Now().Before(nextInventory) {
			if err := a.report(ctx); err == nil {
				nextInventory = time.Now().Add(a.Inventory)
			} else if errors.Is(err, errRefused) {
				return err
			}
		}
		jobs, err := a.poll(ctx)
		if err != nil {
			if errors.Is(err, errRefused) {
				return err
			}
			if ctx.Err() != nil {
				break
			}
			a.log.Warn("agent: cannot reach Headwater; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		for _, j := range jobs {
			res := a.apply(ctx, j)
			if err := a.post(ctx, local.PathResults, res); err != nil {
				a.log.Warn("agent: posting a result failed; the job will come again", "job", j.ID, "err", err)
			}
		}
		if len(jobs) > 0 {
			nextInventory = time.Time{} // accounts changed: report soon
		}
	}
	return nil
}

var errRefused = errors.New("Headwater refused this machine's certificate (revoked or replaced): enrol again")

func (a *Agent) poll(ctx context.Context) ([]local.Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.server+local.PathJobs+"?wait="+a.Poll.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		return nil, errRefused
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("polling for jobs: %s", resp.Status)
	}
	var jobs []local.Job
	return jobs, json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&jobs)
}

func (a *Agent) post(ctx context.Context, path string, v any) error {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.server+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		return errRefused
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return nil
}

// report sends the machine's local accounts, system accounts left out.
func (a *Agent) report(ctx context.Context) error {
	accts, err := a.drv.List(ctx)
	if err != nil {
		return err
	}
	inv := local.Inventory{Accounts: []local.LocalAccount{}}
	for _, ac := range accts {
		if ac.System {
			continue
		}
		inv.Accounts = append(inv.Accounts, local.LocalAccount{Name: ac.Name, FullName: ac.FullName, Locked: ac.Locked})
	}
	return a.post(ctx, local.PathInventory, inv)
}

// apply runs one job with the driver.
func (a *Agent) apply(ctx context.Context, j local.Job) local.Result {
	res := local.Result{ID: j.ID}
	var err error
	switch j.Op {
	case local.OpSetPassword:
		var pw []byte
		pw, err = a.open(j.Password)
		if err == nil {
			err = a.drv.SetPassword(ctx, j.Account, string(pw))
		}
	case local.OpDisable:
		err = a.drv.Disable(ctx, j.Account)
	case local.OpEnable:
		err = a.drv.Enable(ctx, j.Account)
	case local.OpSetFullName:
		err = a.drv.SetFullName(ctx, j.Account, j.FullName)
	case local.OpInventory:
		err = a.report(ctx)
	default:
		err = fmt.Errorf("unknown job %q (upgrade the agent)", j.Op)
	}
	if err != nil {
		res.Error = err.Error()
		res.NoSuchAccount = errors.Is(err, driver.ErrNoSuchAccount)
		a.log.Info("agent: job failed", "job", j.ID, "op", j.Op, "account", j.Account, "err", err)
		return res
	}
	a.log.Info("agent: job done", "job", j.ID, "op", j.Op, "account", j.Account)
	res.OK = true
	return res
}

func (a *Agent) open(sealed string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, err
	}
	return rsa.DecryptOAEP(sha256.New(), rand.Reader, a.key, ct, []byte("headwater-agent-password"))
}
