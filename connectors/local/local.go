// Package local is the connector kind for the local accounts of a
// machine, reached through the Headwater agent running on it (`headwater
// agent run`). A directory of this kind is one machine. The connector
// queues jobs in the store; the agent polls for them over mutual TLS, runs
// them with the machine's own tools (agent/driver) and posts the results.
// While the machine is offline the connector answers "throttled", so the
// outbox keeps the change and delivers it when the machine returns.
//
// Local accounts are not created or deleted by Headwater: the agent
// reports the machine's accounts (its inventory), import binds them to
// users by name, and the connector changes passwords, full names and
// whether they may log in.
package local

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/connectors"
)

// KindName is the name directories of this kind are configured with.
const KindName = "local"

func init() {
	connectors.Register(connectors.Kind{
		Name:        KindName,
		Description: "local accounts of one machine, through the Headwater agent",
		New: func(ctx context.Context, cfg connectors.Config) (connectors.Connector, error) {
			if cfg.Auth == nil {
				return nil, errors.New("local: the connector needs Headwater's authority")
			}
			return &Conn{auth: cfg.Auth, machine: cfg.Directory, wait: 30 * time.Second}, nil
		},
		Validate: func(settings json.RawMessage, secrets map[string]string) error {
			if len(secrets) > 0 {
				return errors.New("local directories have no credentials: the machine enrols with a token (headwater directory enrol)")
			}
			return nil
		},
	})
}

// Conn is the connector of one machine.
type Conn struct {
	auth    *authority.Authority
	machine string
	wait    time.Duration // for a job's result
}

var _ connectors.Connector = (*Conn)(nil)

func (c *Conn) online(ctx context.Context) error {
	seen := lastSeen(ctx, c.auth, c.machine)
	if seen.IsZero() {
		return connectors.Throttled(OfflineRetry, fmt.Sprintf("machine %s has not connected yet (enrol its agent)", c.machine), nil)
	}
	if time.Since(seen) > OnlineWithin {
		return connectors.Throttled(OfflineRetry, fmt.Sprintf("machine %s is offline (last seen %s); the change is delivered when it returns", c.machine, seen.Format(time.RFC3339)), nil)
	}
	return nil
}

// Test says whether the machine's agent is enrolled and polling.
func (c *Conn) Test(ctx context.Context) error {
	if _, err := c.auth.GetState(ctx, nsCert, c.machine); err != nil {
		return connectors.AuthFailed(fmt.Sprintf("machine %s has no enrolled agent: run `headwater agent enroll` on it with a token from `headwater directory enrol %s`", c.machine, c.machine), errNoCert)
	}
	return c.online(ctx)
}

func (c *Conn) accounts(ctx context.Context) ([]LocalAccount, error) {
	inv, err := inventory(ctx, c.auth, c.machine)
	if err != nil {
		if errors.Is(err, authority.ErrStateGone) {
			return nil, c.online(ctx)
		}
		return nil, err
	}
	return inv.Accounts, nil
}

func toAccount(a LocalAccount) connectors.Account {
	return connectors.Account{ID: a.Name, Login: a.Name, DisplayName: a.FullName, Enabled: !a.Locked}
}

// Check refuses a login the machine has no account for.
func (c *Conn) Check(ctx context.Context, d connectors.Desired) error {
	if _, err := c.Find(ctx, d.Login, ""); errors.Is(err, connectors.ErrNotFound) {
		return connectors.Rejected(fmt.Sprintf("machine %s has no local account %q; create it on the machine (Headwater does not create local accounts)", c.machine, d.Login), nil)
	} else if err != nil {
		return err
	}
	return nil
}

// Get reads an account from the machine's last inventory.
func (c *Conn) Get(ctx context.Context, id string) (*connectors.Account, error) {
	return c.Find(ctx, id, "")
}

// Find looks a login up in the inventory (local names compare exactly on
// Linux and macOS, case-insensitively on Windows: exact first, then folded).
func (c *Conn) Find(ctx context.Context, login, _ string) (*connectors.Account, error) {
	as, err := c.accounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Name == login {
			x := toAccount(a)
			return &x, nil
		}
	}
	for _, a := range as {
		if strings.EqualFold(a.Name, login) {
			x := toAccount(a)
			return &x, nil
		}
	}
	return nil, connectors.ErrNotFound
}

// Create is refused: local accounts are made on the machine.
func (c *Conn) Create(ctx context.Context, d connectors.Desired, password string) (*connectors.Account, error) {
	return nil, connectors.Rejected(fmt.Sprintf("Headwater does not create local accounts: create %q on %s, then import", d.Login, c.machine), nil)
}

// Delete is refused the same way; deleted users' accounts are disabled.
func (c *Conn) Delete(ctx context.Context, id string) error {
	return connectors.Rejected("Headwater does not delete local accounts (they are disabled)", nil)
}

// Update changes the full name and whether the account may log in; local
// login names stay (renaming a local account breaks its home directory).
func (c *Conn) Update(ctx context.Context, id string, p connectors.Patch) error {
	if p.DisplayName != nil {
		if err := c.run(ctx, Job{Op: OpSetFullName, Account: id, FullName: *p.DisplayName}); err != nil {
			return err
		}
	}
	if p.Enabled != nil {
		op := OpDisable
		if *p.Enabled {
			op = OpEnable
		}
		if err := c.run(ctx, Job{Op: op, Account: id}); err != nil {
			return err
		}
	}
	return nil
}

// SetPassword sends the password encrypted to the machine's key.
func (c *Conn) SetPassword(ctx context.Context, id, password string) error {
	sealed, err := c.sealFor(ctx, password)
	if err != nil {
		return err
	}
	return c.run(ctx, Job{Op: OpSetPassword, Account: id, Password: sealed})
}

func (c *Conn) sealFor(ctx context.Context, password string) (string, error) {
	raw, err := c.auth.GetState(ctx, nsCert, c.machine)
	if err != nil {
		return "", connectors.AuthFailed(fmt.Sprintf("machine %s has no enrolled agent", c.machine), err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return "", errors.New("the machine's certificate record is damaged")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "", err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", errors.New("the machine's key is not RSA")
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte(password), []byte("headwater-agent-password"))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// run queues a job and waits for the agent's result. A machine that is
// offline gets no job: the framework retries the whole change later.
func (c *Conn) run(ctx context.Context, j Job) error {
	if err := c.online(ctx); err != nil {
		return err
	}
	id := make([]byte, 12)
	rand.Read(id)
	j.ID = hex.EncodeToString(id)
	b, _ := json.Marshal(j)
	if err := c.auth.PutState(ctx, nsJobs, c.machine+"/"+j.ID, b, time.Hour); err != nil {
		return err
	}
	deadline := time.Now().Add(c.wait)
	for time.Now().Before(deadline) {
		raw, err := c.auth.TakeState(ctx, nsResults, c.machine+"/"+j.ID)
		if err == nil {
			var res Result
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			switch {
			case res.OK:
				return nil
			case res.NoSuchAccount:
				return connectors.ErrNotFound
			default:
				return connectors.Rejected(fmt.Sprintf("machine %s: %s", c.machine, res.Error), nil)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// No answer: withdraw the job so it does not run after the framework
	// has given up on it, and let the framework retry.
	c.auth.DeleteState(ctx, nsJobs, c.machine+"/"+j.ID)
	return connectors.Transient(fmt.Sprintf("machine %s did not answer within %s", c.machine, c.wait), nil)
}

// List is the machine's last inventory.
func (c *Conn) List(ctx context.Context, fn func(connectors.Account) error) error {
	as, err := c.accounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range as {
		if err := fn(toAccount(a)); err != nil {
			return err
		}
	}
	return nil
}

// Changes: drift is found by full passes over the inventory.
func (c *Conn) Changes(ctx context.Context, cursor string) ([]connectors.Account, string, error) {
	return nil, "", connectors.ErrNoChangeFeed
}

func (c *Conn) Close() error { return nil }
