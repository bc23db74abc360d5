package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/store"
)

// ManagerConfig configures the workers.
type ManagerConfig struct {
	Auth   *authority.Authority
	Logger *slog.Logger
	// HTTPClient is handed to connectors (tests: an emulator's CA).
	HTTPClient *http.Client
	// Poll is how often a worker looks for due retries when nothing wakes
	// it (default 2s); Rescan is how often directories are re-read
	// (default 10s).
	Poll, Rescan time.Duration
	// MaxAttempts moves an entry to the dead-letter state after that many
	// failures (default 10).
	MaxAttempts int
	// Parallel is how many users a worker reconciles at once (default 8).
	Parallel int
	// MembershipEvery and FeedEvery pace group-binding and change-feed
	// passes (defaults 30s and 60s).
	MembershipEvery, FeedEvery time.Duration
}

// Manager runs one worker per directory, each holding an etcd lock so that
// across replicas exactly one delivers to a directory at a time.
type Manager struct {
	cfg     ManagerConfig
	auth    *authority.Authority
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	workers map[string]*worker
	runCtx  context.Context // Run's: workers live under it, never under a request's
}

// NewManager builds a Manager; Run starts it.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.MembershipEvery <= 0 {
		cfg.MembershipEvery = 30 * time.Second
	}
	if cfg.FeedEvery <= 0 {
		cfg.FeedEvery = time.Minute
	}
	return &Manager{cfg: cfg, auth: cfg.Auth, log: cfg.Logger, metrics: newMetrics(), workers: map[string]*worker{}}
}

// Collectors are the Prometheus metrics of the workers.
func (m *Manager) Collectors() []prometheus.Collector { return m.metrics.collectors() }

// Run starts and stops workers as directories come and go, until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	m.runCtx = ctx
	m.mu.Unlock()
	t := time.NewTicker(m.cfg.Rescan)
	defer t.Stop()
	defer m.stopAll()
	for {
		if err := m.rescan(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("reading directories", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Rescan re-reads the directories now (the API calls it after a change).
// Before Run it does nothing: Run reads them when it starts.
func (m *Manager) Rescan(ctx context.Context) error { return m.rescan(ctx) }

func (m *Manager) rescan(ctx context.Context) error {
	dirs, err := m.auth.ListDirectories(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runCtx == nil || m.runCtx.Err() != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		seen[d.Name] = true
		if w, ok := m.workers[d.Name]; ok {
			if w.dir.Modified.Equal(d.Modified) {
				continue
			}
			w.stop() // changed: restart with the new settings
		}
		w := &worker{m: m, dir: d, done: make(chan struct{})}
		wctx, cancel := context.WithCancel(m.runCtx)
		w.cancel = cancel
		m.workers[d.Name] = w
		go w.run(wctx)
	}
	for name, w := range m.workers {
		if !seen[name] {
			w.stop()
			delete(m.workers, name)
		}
	}
	return nil
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, w := range m.workers {
		w.stop()
		delete(m.workers, name)
	}
}

// connect builds the connector of a directory.
func (m *Manager) connect(ctx context.Context, d *authority.Directory) (Connector, error) {
	k, err := Lookup(d.Kind)
	if err != nil {
		return nil, err
	}
	secrets, err := m.auth.DirectorySecrets(d)
	if err != nil {
		return nil, err
	}
	return k.New(ctx, Config{Directory: d.Name, Settings: d.Settings, Secrets: secrets,
		Logger: m.log.With("directory", d.Name, "kind", d.Kind), HTTPClient: m.cfg.HTTPClient, Auth: m.auth})
}

// Test checks a directory's credentials and reachability.
func (m *Manager) Test(ctx context.Context, d *authority.Directory) error {
	c, err := m.connect(ctx, d)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Test(ctx)
}

// worker delivers to one directory.
type worker struct {
	m      *Manager
	dir    *authority.Directory
	cancel context.CancelFunc
	done   chan struct{}

	pauseMu sync.Mutex
	pause   time.Time // throttled or credentials failing: wait until then

	listing   map[string]Account // the target's accounts by lowercased login and email, for bulk passes
	listingAt time.Time
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) log() *slog.Logger { return w.m.log.With("directory", w.dir.Name) }

// run takes the directory's lock and serves while it holds it.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		held, unlock, err := w.m.auth.Lock(ctx, "directory/"+w.dir.Name, 10)
		if err != nil {
			if ctx.Err() == nil {
				w.log().Warn("taking the directory lock", "err", err)
				sleep(ctx, 2*time.Second)
			}
			continue
		}
		w.log().Info("delivering to the directory")
		err = w.serve(held)
		unlock()
		if err != nil && ctx.Err() == nil {
			w.log().Warn("directory worker stopped; restarting", "err", err)
			sleep(ctx, 5*time.Second)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// serve runs the delivery loop while ctx (the lock) holds.
func (w *worker) serve(ctx context.Context) error {
	conn, err := w.m.connect(ctx, w.dir)
	if err != nil {
		return err
	}
	defer conn.Close()
	wake := w.m.auth.WatchOutbox(ctx, w.dir.Name)
	poll := time.NewTicker(w.m.cfg.Poll)
	defer poll.Stop()
	var nextMembers, nextFeed, nextPass, nextImport time.Time
	feed := true
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(nextMembers) {
			if err := w.syncMembers(ctx); err != nil {
				w.log().Warn("group bindings", "err", err)
			}
			nextMembers = now.Add(w.m.cfg.MembershipEvery)
			if w.dir.AllUsers && len(w.dir.Groups) == 0 {
				// New users are bound as they are created; this pass only
				// catches users from before the directory existed.
				nextMembers = now.Add(max(w.m.cfg.MembershipEvery, 5*time.Minute))
			}
		}
		if feed && !now.Before(nextFeed) && !w.paused() {
			if err := w.followFeed(ctx, conn); errors.Is(err, ErrNoChangeFeed) {
				feed = false
			} else if err != nil {
				w.noteFailure(err)
				w.log().Warn("change feed", "err", err)
			}
			nextFeed = now.Add(w.m.cfg.FeedEvery)
		}
		if !now.Before(nextPass) {
			if err := w.fullPassIfDue(ctx); err != nil {
				w.log().Warn("full pass", "err", err)
			}
			nextPass = now.Add(time.Minute)
		}
		if p := w.dir.ImportPeriod(); p > 0 && !now.Before(nextImport) {
			w.scheduledImport(ctx, p)
			nextImport = now.Add(time.Minute)
		}
		if !w.paused() {
			more, err := w.deliverDue(ctx, conn)
			if err != nil && ctx.Err() == nil {
				w.log().Warn("delivering", "err", err)
			}
			if more && err == nil {
				continue // a full page: the next one is already waiting
			}
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-poll.C:
		}
	}
	return nil
}

func (w *worker) paused() bool {
	w.pauseMu.Lock()
	defer w.pauseMu.Unlock()
	return time.Now().Before(w.pause)
}

// noteFailure pauses the worker when the whole target refuses work:
// throttling (for Retry-After) or bad credentials (for a while).
func (w *worker) noteFailure(err error) {
	var d time.Duration
	var e *Error
	if errors.As(err, &e) {
		switch e.Kind {
		case KindThrottled:
			d = max(e.RetryAfter, time.Second)
		case KindAuth:
			d = 30 * time.Second
		}
	}
	if d == 0 {
		return
	}
	w.pauseMu.Lock()
	if until := time.Now().Add(d); until.After(w.pause) {
		w.pause = until
	}
	w.pauseMu.Unlock()
}

// deliverDue reconciles every user with due outbox entries, a bounded
// number at a time; one user's entries are handled together, in order.
func (w *worker) deliverDue(ctx context.Context, conn Connector) (more bool, err error) {
	entries, err := w.m.auth.Outbox(ctx, w.dir.Name, store.MaxPageSize)
	if err != nil {
		return false, err
	}
	now := time.Now()
	byUser := map[string][]store.OutboxEntry{}
	var order []string
	queued, dead := 0, 0
	deadOf := map[string][]store.OutboxEntry{}
	for _, e := range entries {
		if e.Dead {
			dead++
			deadOf[e.UserID] = append(deadOf[e.UserID], e)
			continue
		}
		queued++
		if e.NextAttempt.After(now) {
			continue
		}
		if _, ok := byUser[e.UserID]; !ok {
			order = append(order, e.UserID)
		}
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	w.m.metrics.queue.WithLabelValues(w.dir.Name).Set(float64(queued))
	w.m.metrics.dead.WithLabelValues(w.dir.Name).Set(float64(dead))
	if b, ok := conn.(Batcher); ok && len(order) >= bulkThreshold && !w.paused() {
		order = w.bulkCreate(ctx, conn, b, order, byUser)
	}
	sem := make(chan struct{}, w.m.cfg.Parallel)
	var wg sync.WaitGroup
	for _, uid := range order {
		if ctx.Err() != nil || w.paused() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(uid string, es, dead []store.OutboxEntry) {
			defer func() { <-sem; wg.Done() }()
			w.deliverUser(ctx, conn, uid, es, dead)
		}(uid, byUser[uid], deadOf[uid])
	}
	wg.Wait()
	// A full page with work done in it: more may be due right behind it.
	return len(entries) == store.MaxPageSize && len(byUser) > 0, nil
}

// deliverUser reconciles one user and settles their entries.
// dead are the user's dead letters from the same outbox page.
func (w *worker) deliverUser(ctx context.Context, conn Connector, uid string, es, dead []store.OutboxEntry) {
	// Sync before password: the account may have to be created first,
	// with the password when one is queued.
	sort.SliceStable(es, func(i, j int) bool { return es[i].Kind == authority.OutboxSync && es[j].Kind != authority.OutboxSync })
	var pw *store.OutboxEntry
	for i := range es {
		if es[i].Kind == authority.OutboxPassword {
			pw = &es[i]
		}
	}
	password := ""
	if pw != nil {
		p, err := w.m.auth.OpenOutboxPassword(*pw)
		if err != nil {
			w.fail(ctx, uid, es, Rejected("the queued password cannot be unsealed (was the sealing key removed?)", err))
			return
		}
		password = p
	}
	deadPassword := ""
	for _, e := range dead {
		if e.Kind == authority.OutboxPassword {
			deadPassword = e.LastError
		}
	}
	res, err := w.reconcile(ctx, conn, uid, password, deadPassword, false)
	if err != nil {
		w.fail(ctx, uid, es, err)
		return
	}
	// A successful reconcile supersedes an earlier failed one: its dead
	// sync entry goes (dead passwords stay until retried or dismissed).
	for _, e := range dead {
		if e.Kind == authority.OutboxSync {
			w.m.auth.Delivered(ctx, e)
		}
	}
	for _, e := range es {
		if err := w.m.auth.Delivered(ctx, e); err != nil && !errors.Is(err, authority.ErrPrecondition) && !errors.Is(err, authority.ErrNotFound) {
			w.log().Warn("removing a delivered outbox entry", "user", uid, "err", err)
			continue
		}
		w.m.metrics.latency.WithLabelValues(w.dir.Name, e.Kind).Observe(time.Since(e.Created).Seconds())
	}
	_ = res
}

// fail records a failed attempt: the entries are retried with backoff, or
// parked as dead letters when the target rejected them or after
// MaxAttempts; the binding shows the target's words.
func (w *worker) fail(ctx context.Context, uid string, es []store.OutboxEntry, err error) {
	kind := KindOf(err)
	w.m.metrics.failures.WithLabelValues(w.dir.Name, kind.String()).Inc()
	w.noteFailure(err)
	w.log().Info("delivery failed", "user", uid, "reason", kind.String(), "err", err)
	for _, e := range es {
		e.Attempts++
		e.LastError = err.Error()
		switch {
		case kind == KindRejected || (e.Attempts >= w.m.cfg.MaxAttempts && kind != KindThrottled):
			// Throttling never makes a dead letter: the target asked us to
			// wait, and everything is delivered once it lets us.
			e.Dead = true
		case kind == KindThrottled:
			var ce *Error
			errors.As(err, &ce)
			e.NextAttempt = time.Now().Add(max(ce.RetryAfter, time.Second))
		default:
			e.NextAttempt = time.Now().Add(backoff(e.Attempts))
		}
		if err := w.m.auth.Retry(ctx, e); err != nil && !errors.Is(err, authority.ErrPrecondition) {
			w.log().Warn("recording a failed delivery", "user", uid, "err", err)
		}
	}
	w.m.auth.UpdateBinding(ctx, uid, w.dir.Name, func(b *authority.Binding) {
		b.Status, b.Detail, b.LastSync = "error", err.Error(), time.Now().UTC()
	})
}

// backoff is 2s, 4s, 8s... capped at 10 minutes.
func backoff(attempt int) time.Duration {
	d := 2 * time.Second << min(attempt-1, 9)
	return min(d, 10*time.Minute)
}

// result says what reconciling a user did or would do.
type result struct {
	Action  string   // create, update, disable, delete, none, mismatch, unbound
	Changes []string // attributes that differ
	Account *Account
}

// reconcile brings the user's account in line with Headwater (push) or
// records the difference (report). plan only computes the result.
// deadPassword is the error of the user's dead-lettered password, if any:
// it stays the binding's status while it is there.
func (w *worker) reconcile(ctx context.Context, conn Connector, uid, password, deadPassword string, plan bool) (result, error) {
	a := w.m.auth
	b, err := a.BindingFor(ctx, uid, w.dir.Name)
	if errors.Is(err, authority.ErrNotFound) {
		return result{Action: "none"}, nil // not bound (any more): nothing to deliver
	}
	if err != nil {
		return result{}, err
	}
	mode := b.Mode
	if mode == "" {
		mode = w.dir.Mode
	}
	u, err := a.GetUser(ctx, uid)
	deleted := errors.Is(err, authority.ErrNotFound)
	if err != nil && !deleted {
		return result{}, err
	}
	var want Desired
	if !deleted {
		want = Desire(w.dir, u)
	}
	gone := deleted || b.Unbound

	// What the target holds.
	var have *Account
	if b.ExternalID != "" {
		have, err = conn.Get(ctx, b.ExternalID)
		if errors.Is(err, ErrNotFound) {
			have, err = nil, nil
		}
	} else if !deleted {
		have, err = conn.Find(ctx, want.Login, want.Email)
		if errors.Is(err, ErrNotFound) {
			have, err = nil, nil
		}
	}
	if err != nil {
		return result{}, err
	}
	status := func(st, detail string, mismatch []string, ext string) {
		if plan {
			return
		}
		if st == "in_sync" && password == "" && deadPassword != "" {
			// A password the target refused stays the binding's news until
			// it is retried or dismissed: a later attribute sync does not
			// make it "in sync".
			st, detail = "error", deadPassword
		}
		a.UpdateBinding(ctx, uid, w.dir.Name, func(x *authority.Binding) {
			x.Status, x.Detail, x.Mismatch, x.LastSync = st, detail, mismatch, time.Now().UTC()
			if ext != "" {
				x.ExternalID = ext
			}
			if password != "" && mode == "push" && st == "in_sync" {
				x.NeedsPassword = false
				x.PasswordPushed = time.Now().UTC()
			}
		})
	}

	if gone {
		res := result{Action: "none", Account: have}
		if have != nil {
			switch {
			case mode == "report":
				if have.Enabled {
					res.Action, res.Changes = "mismatch", []string{"enabled"}
				}
			case deleted && w.dir.DeleteInTarget:
				res.Action = "delete"
				if !plan {
					if err := conn.Delete(ctx, have.ID); err != nil && !errors.Is(err, ErrNotFound) {
						return res, err
					}
				}
			case have.Enabled:
				res.Action, res.Changes = "disable", []string{"enabled"}
				if !plan {
					off := false
					if err := conn.Update(ctx, have.ID, Patch{Enabled: &off}); err != nil {
						return res, err
					}
				}
			}
		}
		if !plan {
			if deleted || b.Unbound {
				// The account is disabled (or gone): the binding ends.
				if err := a.RemoveBinding(ctx, uid, w.dir.Name); err != nil {
					return res, err
				}
			}
		}
		return res, nil
	}

	if have == nil {
		if mode == "report" {
			status("mismatch", "no account in the target", []string{"missing"}, "")
			return result{Action: "mismatch", Changes: []string{"missing"}}, nil
		}
		if err := conn.Check(ctx, want); err != nil {
			status("error", err.Error(), nil, "")
			if plan {
				return result{Action: "refused", Changes: []string{err.Error()}}, nil
			}
			return result{}, err
		}
		if plan {
			return result{Action: "create"}, nil
		}
		initial := password
		if initial == "" {
			initial = GeneratePassword()
		}
		acct, err := conn.Create(ctx, want, initial)
		if err != nil {
			// Created by an earlier attempt that died before recording it?
			if found, ferr := conn.Find(ctx, want.Login, want.Email); ferr == nil {
				acct, err = found, nil
				if password != "" {
					err = conn.SetPassword(ctx, acct.ID, password)
				}
			}
			if err != nil {
				return result{}, err
			}
		}
		st := "in_sync"
		detail := ""
		if password == "" {
			detail = "account created; waiting for the user's password (their next sign-in)"
		}
		status(st, detail, nil, acct.ID)
		return result{Action: "create", Account: acct}, nil
	}

	patch, names := Diff(want, *have)
	// A password changed in the target after Headwater last set it (AD's
	// pwdLastSet) was changed by someone else: always reported. Push mode
	// overwrites it only with a newer Headwater password: the one queued
	// now, or, when Headwater's is newer but its cleartext is not known,
	// the user's next sign-in (the binding waits for it).
	pwDrift := password == "" && !have.PasswordChanged.IsZero() && !b.PasswordPushed.IsZero() &&
		have.PasswordChanged.After(b.PasswordPushed.Add(5*time.Second))
	if pwDrift {
		names = append(names, "password")
	}
	res := result{Action: "none", Changes: names, Account: have}
	if mode == "report" {
		if len(names) > 0 {
			res.Action = "mismatch"
			status("mismatch", "", names, have.ID)
		} else {
			status("in_sync", "report mode: the password is not delivered", nil, have.ID)
		}
		return res, nil
	}
	// The password first: enabling an account that has none (a local
	// account just created on the machine) is refused, and a queued
	// password is the newest truth anyway.
	if password != "" && !plan {
		if err := conn.SetPassword(ctx, have.ID, password); err != nil {
			return res, err
		}
	}
	if !patch.Empty() {
		res.Action = "update"
		if !plan {
			if err := conn.Update(ctx, have.ID, patch); err != nil {
				return res, err
			}
		}
	}
	if pwDrift {
		detail := "the password was changed in the target after Headwater set it"
		hwNewer := u.Password != nil && u.Password.ChangedAt.After(have.PasswordChanged)
		if hwNewer {
			detail += "; Headwater's is newer and replaces it at the user's next sign-in"
		}
		if !plan {
			a.UpdateBinding(ctx, uid, w.dir.Name, func(x *authority.Binding) {
				x.Status, x.Detail, x.Mismatch, x.LastSync = "mismatch", detail, []string{"password"}, time.Now().UTC()
				x.ExternalID = have.ID
				if hwNewer {
					x.NeedsPassword = true
				}
			})
		}
		res.Action = "mismatch"
		return res, nil
	}
	status("in_sync", "", nil, have.ID)
	return res, nil
}

// syncMembers binds the members of the directory's groups and unbinds
// group bindings of users who left them all.
func (w *worker) syncMembers(ctx context.Context) error {
	a := w.m.auth
	members := map[string]bool{}
	source := "group"
	if w.dir.AllUsers {
		source = "all"
		if err := a.EachUser(ctx, "", func(u *authority.User) bool {
			members[u.ID] = true
			return ctx.Err() == nil
		}); err != nil {
			return err
		}
	}
	for _, g := range w.dir.Groups {
		opts := authority.ListOptions{Limit: store.MaxPageSize}
		for {
			p, err := a.Members(ctx, g, opts)
			if err != nil {
				if errors.Is(err, authority.ErrNotFound) {
					break
				}
				return err
			}
			for _, id := range p.Items {
				members[id] = true
			}
			if p.Next == "" || len(p.Items) == 0 {
				break
			}
			opts.After = p.Next
		}
	}
	bs, err := a.BindingsOf(ctx, w.dir.Name)
	if err != nil {
		return err
	}
	bound := map[string]*authority.Binding{}
	for i := range bs {
		bound[bs[i].UserID] = &bs[i]
	}
	var missing []string
	for id := range members {
		b := bound[id]
		if b == nil {
			missing = append(missing, id)
			continue
		}
		if b.Unbound && (b.Source == "group" || b.Source == "all") {
			// Back in a group before the unbinding finished.
			a.UpdateBinding(ctx, id, w.dir.Name, func(x *authority.Binding) { x.Unbound = false })
			a.EnqueueSync(ctx, w.dir.Name, []string{id})
		}
	}
	sort.Strings(missing)
	if err := a.BindMany(ctx, w.dir.Name, source, missing); err != nil {
		return fmt.Errorf("binding members: %w", err)
	}
	for id, b := range bound {
		if (b.Source == "group" || b.Source == "all") && !b.Unbound && !members[id] {
			if err := a.Unbind(ctx, id, w.dir.Name); err != nil && !errors.Is(err, authority.ErrNotFound) {
				return fmt.Errorf("unbinding a former member: %w", err)
			}
		}
	}
	return nil
}

// followFeed reads the target's change feed and queues a reconcile of
// every bound user whose account changed there (someone re-enabled it, or
// renamed it): push mode then reverts it, report mode records it.
func (w *worker) followFeed(ctx context.Context, conn Connector) error {
	a := w.m.auth
	cursor := ""
	if b, err := a.GetState(ctx, "connector-cursor", w.dir.Name); err == nil {
		cursor = string(b)
	}
	accts, next, err := conn.Changes(ctx, cursor)
	if err != nil {
		return err
	}
	if len(accts) > 0 {
		bs, err := a.BindingsOf(ctx, w.dir.Name)
		if err != nil {
			return err
		}
		byExt := map[string]string{}
		for _, b := range bs {
			if b.ExternalID != "" {
				byExt[b.ExternalID] = b.UserID
			}
		}
		var users []string
		for _, acct := range accts {
			if uid, ok := byExt[acct.ID]; ok {
				users = append(users, uid)
			}
		}
		if err := a.EnqueueSync(ctx, w.dir.Name, users); err != nil {
			return err
		}
	}
	if next != "" && next != cursor {
		// Kept for 30 days; a target whose feed token is older starts over.
		return a.PutState(ctx, "connector-cursor", w.dir.Name, []byte(next), 30*24*time.Hour)
	}
	return nil
}

// fullPassIfDue queues a reconcile of every bound user once per period,
// counted across replicas, and once after every change of the directory.
func (w *worker) fullPassIfDue(ctx context.Context) error {
	a := w.m.auth
	period := w.dir.SyncPeriod()
	// The claim names the directory's version too: a change of settings or
	// mode (report to push, say) is followed by a pass that applies it.
	key := fmt.Sprintf("%s@%d", w.dir.Name, w.dir.Modified.UnixNano())
	if err := a.ClaimState(ctx, "connector-pass", key, period); errors.Is(err, authority.ErrStateClaimed) {
		return nil
	} else if err != nil {
		return err
	}
	if w.dir.Created.Equal(w.dir.Modified) && time.Since(w.dir.Created) < period {
		// A new directory: binding its users queues every one of them
		// already; the first full pass comes after a period.
		return nil
	}
	bs, err := a.BindingsOf(ctx, w.dir.Name)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(bs))
	for _, b := range bs {
		ids = append(ids, b.UserID)
	}
	w.log().Info("full reconcile pass", "users", len(ids))
	return a.EnqueueSync(ctx, w.dir.Name, ids)
}

func (w *worker) scheduledImport(ctx context.Context, period time.Duration) {
	if err := w.m.auth.ClaimState(ctx, "connector-import", w.dir.Name, period); err != nil {
		return
	}
	res, err := w.m.Import(ctx, w.dir.Name, ImportOptions{})
	if err != nil {
		w.log().Warn("scheduled import", "err", err)
		return
	}
	w.log().Info("scheduled import", "accounts", res.Accounts, "matched", res.Matched, "unmatched", len(res.Unmatched))
}

// bulkThreshold is how many users due at once make a bulk pass worth it.
const bulkThreshold = 40

// bulkCreate provisions, through the target's batch API, the due users
// that have no account yet: one listing of the target replaces a lookup
// per user, and creates go twenty to a request. It returns the users left
// for the one-by-one path (those with accounts, unbinding, deleted,
// refused, or in report mode).
func (w *worker) bulkCreate(ctx context.Context, conn Connector, bt Batcher, order []string, byUser map[string][]store.OutboxEntry) []string {
	a := w.m.auth
	if w.listing == nil || time.Since(w.listingAt) > time.Minute {
		idx := map[string]Account{}
		err := conn.List(ctx, func(acct Account) error {
			idx[strings.ToLower(acct.Login)] = acct
			if acct.Email != "" {
				idx[strings.ToLower(acct.Email)] = acct
			}
			return nil
		})
		if err != nil {
			w.noteFailure(err)
			w.log().Info("bulk pass: listing the target failed; delivering one by one", "err", err)
			return order
		}
		w.listing, w.listingAt = idx, time.Now()
	}
	type owner struct {
		uid      string
		es       []store.OutboxEntry
		password bool
		binding  authority.Binding
	}
	// Preparing a user costs a few etcd reads; do it side by side, keeping
	// the order of the due list.
	type prepared struct {
		op   *BatchOp
		own  owner
		rest bool
	}
	preps := make([]prepared, len(order))
	var pwg sync.WaitGroup
	psem := make(chan struct{}, 2*w.m.cfg.Parallel)
	for i, uid := range order {
		psem <- struct{}{}
		pwg.Add(1)
		go func(i int, uid string) {
			defer func() { <-psem; pwg.Done() }()
			preps[i].rest = true
			b, err := a.BindingFor(ctx, uid, w.dir.Name)
			mode := w.dir.Mode
			if err == nil && b.Mode != "" {
				mode = b.Mode
			}
			if err != nil || b.ExternalID != "" || b.Unbound || mode != "push" {
				return
			}
			u, err := a.GetUser(ctx, uid)
			if err != nil {
				return
			}
			want := Desire(w.dir, u)
			acct, found := w.listing[strings.ToLower(want.Login)]
			if !found && want.Email != "" {
				acct, found = w.listing[strings.ToLower(want.Email)]
			}
			if found {
				// The account exists: adopt it; the one-by-one path compares.
				a.UpdateBinding(ctx, uid, w.dir.Name, func(x *authority.Binding) { x.ExternalID = acct.ID })
				return
			}
			if conn.Check(ctx, want) != nil {
				return
			}
			o := owner{uid: uid, es: byUser[uid], binding: *b}
			pw := ""
			for _, e := range o.es {
				if e.Kind == authority.OutboxPassword {
					if p, err := a.OpenOutboxPassword(e); err == nil {
						pw, o.password = p, true
					}
				}
			}
			if pw == "" {
				pw = GeneratePassword()
			}
			preps[i] = prepared{op: &BatchOp{Kind: BatchCreate, Desired: want, Password: pw}, own: o}
		}(i, uid)
	}
	pwg.Wait()
	var ops []BatchOp
	var owners []owner
	var rest []string
	for i, p := range preps {
		if p.rest {
			rest = append(rest, order[i])
			continue
		}
		ops = append(ops, *p.op)
		owners = append(owners, p.own)
	}
	if len(ops) == 0 {
		return rest
	}
	// Chunks of 100 (five $batch requests each) run side by side.
	const chunk = 100
	var wg sync.WaitGroup
	sem := make(chan struct{}, w.m.cfg.Parallel)
	for lo := 0; lo < len(ops); lo += chunk {
		hi := min(lo+chunk, len(ops))
		sem <- struct{}{}
		wg.Add(1)
		go func(lo, hi int) {
			defer func() { <-sem; wg.Done() }()
			errs := bt.Batch(ctx, ops[lo:hi])
			for i, err := range errs {
				o := owners[lo+i]
				if err != nil {
					w.fail(ctx, o.uid, o.es, err)
					continue
				}
				created := ops[lo+i].Created
				// One transaction: binding state and the delivered entries.
				nb := o.binding
				nb.Status, nb.Detail, nb.Mismatch, nb.LastSync = "in_sync", "", nil, time.Now().UTC()
				if created != nil {
					nb.ExternalID = created.ID
				}
				nb.NeedsPassword = !o.password
				if o.password {
					nb.PasswordPushed = time.Now().UTC()
				} else {
					nb.Detail = "account created; waiting for the user's password (their next sign-in)"
				}
				if err := a.Settle(ctx, nb, o.es); err == nil {
					for _, e := range o.es {
						w.m.metrics.latency.WithLabelValues(w.dir.Name, e.Kind).Observe(time.Since(e.Created).Seconds())
					}
					continue
				}
				a.UpdateBinding(ctx, o.uid, w.dir.Name, func(x *authority.Binding) {
					x.Status, x.Detail, x.Mismatch, x.LastSync = "in_sync", "", nil, time.Now().UTC()
					if created != nil {
						x.ExternalID = created.ID
					}
					if o.password {
						x.NeedsPassword = false
					} else {
						x.Detail = "account created; waiting for the user's password (their next sign-in)"
					}
				})
				for _, e := range o.es {
					if err := a.Delivered(ctx, e); err == nil {
						w.m.metrics.latency.WithLabelValues(w.dir.Name, e.Kind).Observe(time.Since(e.Created).Seconds())
					}
				}
			}
		}(lo, hi)
	}
	wg.Wait()
	w.log().Info("bulk pass", "created", len(ops), "left", len(rest))
	return rest
}
