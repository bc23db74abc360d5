// Package portal serves the login page and the self-service portal: app
// tiles, profile, password change with a live view of where the change has
// reached, TOTP enrolment, signed-in browsers, and activation links. Pages
// are rendered on the server (html/template), work without JavaScript, and
// every form carries a CSRF token.
package portal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/internal/web"
)

//go:embed templates
var templates embed.FS

// Cookie names. The session cookie holds "<userID>.<secret>"; the others
// hold random values that bind anonymous forms and the second sign-in step
// to one browser.
const (
	cookieSession = "hw_session"
	cookiePre     = "hw_pre"
	cookieMFA     = "hw_mfa"
)

// Config is what a Portal needs.
type Config struct {
	Auth *authority.Authority
	// PublicURL is where browsers reach the server; it decides whether
	// cookies are marked Secure.
	PublicURL *url.URL
	// SessionTTL is how long a sign-in lasts (default 8 hours).
	SessionTTL time.Duration
	Logger     *slog.Logger
}

// Portal is the login page and the self-service portal.
type Portal struct {
	auth    *authority.Authority
	pages   *web.Pages
	log     *slog.Logger
	ttl     time.Duration
	secure  bool
	csrfKey []byte
	mux     *http.ServeMux
}

// New builds the portal. It reads (or creates) the CSRF key shared by every
// replica, so it needs the store to be ready.
func New(ctx context.Context, cfg Config) (*Portal, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	pages, err := web.NewPages(templates, "templates/*.html", nil, cfg.Logger)
	if err != nil {
		return nil, err
	}
	key, err := cfg.Auth.Secret(ctx, "portal-csrf-key", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("portal CSRF key: %w", err)
	}
	p := &Portal{auth: cfg.Auth, pages: pages, log: cfg.Logger, ttl: cfg.SessionTTL, csrfKey: key,
		secure: SecureCookies(cfg.PublicURL)}
	if cfg.PublicURL != nil && !p.secure {
		p.log.Warn("the public URL is plain http on a non-loopback host: session cookies cannot be marked Secure; serve HTTPS (tls.https) in production", "public_url", cfg.PublicURL.String())
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /login", p.loginPage)
	m.HandleFunc("POST /login", p.loginSubmit)
	m.HandleFunc("GET /logout", p.logout)
	m.HandleFunc("POST /logout", p.logout)
	m.HandleFunc("GET /{$}", p.home)
	m.HandleFunc("POST /profile", p.profile)
	m.HandleFunc("GET /password", p.forcedPasswordPage)
	m.HandleFunc("POST /password", p.password)
	m.HandleFunc("GET /status.json", p.status)
	m.HandleFunc("GET /mfa", p.mfaPage)
	m.HandleFunc("POST /mfa", p.mfaConfirm)
	m.HandleFunc("POST /mfa/remove", p.mfaRemove)
	m.HandleFunc("POST /sessions/end", p.endSession)
	m.HandleFunc("GET /activate", p.activatePage)
	m.HandleFunc("POST /activate", p.activateSubmit)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.pages.Error(w, http.StatusNotFound, "Page not found", "There is no page at this address.", "")
	})
	p.mux = m
	return p, nil
}

// SecureCookies reports whether cookies for u can carry the Secure flag:
// over HTTPS, and over plain HTTP to a loopback host, which browsers treat
// as a secure context.
func SecureCookies(u *url.URL) bool {
	if u == nil {
		return true
	}
	if u.Scheme == "https" {
		return true
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Pages exposes the renderer so the SAML pages look the same.
func (p *Portal) Pages() *web.Pages { return p.pages }

func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (p *Portal) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// csrfFor is the CSRF token of forms shown to the holder of binding (a
// session ID, or the pre-login cookie's value).
func (p *Portal) csrfFor(binding string) string {
	m := hmac.New(sha256.New, p.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Portal) checkCSRF(r *http.Request, binding string) bool {
	got := r.PostFormValue("csrf")
	return binding != "" && got != "" && hmac.Equal([]byte(got), []byte(p.csrfFor(binding)))
}

// preBinding returns the browser's pre-login value, setting one if needed.
func (p *Portal) preBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookiePre); err == nil && len(c.Value) >= 20 {
		return "pre|" + c.Value
	}
	b := make([]byte, 18)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	p.setCookie(w, cookiePre, v, 24*time.Hour)
	return "pre|" + v
}

// Current returns the browser's session and user, or ErrNoSession.
func (p *Portal) Current(r *http.Request) (*authority.Session, *authority.User, error) {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return nil, nil, authority.ErrNoSession
	}
	return p.auth.Session(r.Context(), c.Value)
}

// Require returns the signed-in session and user for r. Without one it
// sends the browser to sign in (coming back to next) and returns ok false;
// so it does when the user must first change their password, or when
// freshAfter is set and the sign-in is older (ForceAuthn).
func (p *Portal) Require(w http.ResponseWriter, r *http.Request, next string, freshAfter time.Time) (*authority.Session, *authority.User, bool) {
	s, u, err := p.Current(r)
	if err != nil && !errors.Is(err, authority.ErrNoSession) {
		p.unavailable(w, err)
		return nil, nil, false
	}
	if s == nil || (!freshAfter.IsZero() && s.AuthnInstant.Before(freshAfter)) {
		q := url.Values{"next": {next}}
		if s != nil {
			q.Set("reauth", "1")
		}
		http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
		return nil, nil, false
	}
	if u.Password != nil && u.Password.MustChange {
		http.Redirect(w, r, "/password?"+url.Values{"next": {next}}.Encode(), http.StatusSeeOther)
		return nil, nil, false
	}
	return s, u, true
}

func (p *Portal) unavailable(w http.ResponseWriter, err error) {
	p.log.Error("portal request failed", "err", err)
	p.pages.Error(w, http.StatusServiceUnavailable, "Something went wrong", "Headwater could not complete this request. Try again in a moment.", "")
}

// safeNext keeps redirects on this site: a path, never a scheme or host.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

type loginData struct {
	CSRF, Next, Username, Error, Info string
	OTPStep                           bool
}

func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	reauth := r.URL.Query().Get("reauth") == "1"
	if !reauth {
		if s, _, err := p.Current(r); err == nil && s != nil {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
	}
	d := loginData{CSRF: p.csrfFor(p.preBinding(w, r)), Next: next}
	if reauth {
		d.Info = "Please sign in again to continue."
	}
	p.pages.Render(w, http.StatusOK, "login", d)
}

// mfaPending is the state between a correct password and the code.
type mfaPending struct {
	UserID string    `json:"userId"`
	Next   string    `json:"next"`
	At     time.Time `json:"at"`
}

const failedLogin = "The username or password is not correct."

func (p *Portal) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	pre := p.preBinding(w, r)
	next := safeNext(r.PostFormValue("next"))
	d := loginData{CSRF: p.csrfFor(pre), Next: next}
	if !p.checkCSRF(r, pre) {
		d.Error = "This form expired. Please sign in again."
		p.pages.Render(w, http.StatusForbidden, "login", d)
		return
	}
	ctx := r.Context()
	src := clientAddr(r)
	otpCode := strings.TrimSpace(r.PostFormValue("otp"))

	// Second step: a password was accepted earlier in this browser.
	if c, err := r.Cookie(cookieMFA); err == nil && r.PostFormValue("username") == "" {
		raw, err := p.auth.GetState(ctx, "mfa", c.Value)
		if err != nil {
			d.Error = "Your sign-in took too long. Please start again."
			p.setCookie(w, cookieMFA, "", 0)
			p.pages.Render(w, http.StatusUnauthorized, "login", d)
			return
		}
		var pend mfaPending
		json.Unmarshal(raw, &pend)
		u, err := p.auth.GetUser(ctx, pend.UserID)
		if err != nil {
			p.pages.Render(w, http.StatusUnauthorized, "login", loginData{CSRF: d.CSRF, Next: next, Error: failedLogin})
			return
		}
		if err := p.auth.VerifyTOTP(ctx, u, otpCode, src); err != nil {
			d.OTPStep, d.Next = true, pend.Next
			d.Error = "That code is not valid. Use the newest code your app shows."
			var te *authority.ThrottledError
			if errors.As(err, &te) {
				d.Error = fmt.Sprintf("Too many attempts. Try again in %d seconds.", int(te.RetryAfter.Seconds())+1)
			}
			p.pages.Render(w, http.StatusUnauthorized, "login", d)
			return
		}
		p.auth.DeleteState(ctx, "mfa", c.Value)
		p.setCookie(w, cookieMFA, "", 0)
		p.startSession(w, r, u, true, pend.Next)
		return
	}

	username := strings.TrimSpace(r.PostFormValue("username"))
	pw := r.PostFormValue("password")
	d.Username = username
	if username == "" || pw == "" {
		d.Error = "Enter your username and password."
		p.pages.Render(w, http.StatusBadRequest, "login", d)
		return
	}
	pr, err := p.auth.Authenticate(authority.WithActor(ctx, authority.Actor{Name: "portal:" + username, Source: src}), username, pw, src)
	if err != nil {
		var te *authority.ThrottledError
		switch {
		case errors.As(err, &te):
			d.Error = fmt.Sprintf("Too many failed attempts. Try again in %d seconds.", int(te.RetryAfter.Seconds())+1)
			w.Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Seconds())+1))
			p.pages.Render(w, http.StatusTooManyRequests, "login", d)
		case errors.Is(err, authority.ErrInvalidCredentials):
			d.Error = failedLogin
			p.pages.Render(w, http.StatusUnauthorized, "login", d)
		default:
			p.unavailable(w, err)
		}
		return
	}
	u, err := p.auth.GetUser(ctx, pr.ID)
	if err != nil {
		p.unavailable(w, err)
		return
	}
	if u.TOTP != nil {
		if otpCode != "" {
			if err := p.auth.VerifyTOTP(ctx, u, otpCode, src); err != nil {
				d.Error = "That code is not valid. Use the newest code your app shows."
				p.pages.Render(w, http.StatusUnauthorized, "login", d)
				return
			}
			p.startSession(w, r, u, true, next)
			return
		}
		b := make([]byte, 24)
		rand.Read(b)
		id := base64.RawURLEncoding.EncodeToString(b)
		raw, _ := json.Marshal(mfaPending{UserID: u.ID, Next: next, At: time.Now()})
		if err := p.auth.PutState(ctx, "mfa", id, raw, 5*time.Minute); err != nil {
			p.unavailable(w, err)
			return
		}
		p.setCookie(w, cookieMFA, id, 5*time.Minute)
		p.pages.Render(w, http.StatusOK, "login", loginData{CSRF: d.CSRF, Next: next, OTPStep: true})
		return
	}
	p.startSession(w, r, u, false, next)
}

func (p *Portal) startSession(w http.ResponseWriter, r *http.Request, u *authority.User, mfa bool, next string) {
	// A new sign-in replaces the browser's old session (no fixation).
	if c, err := r.Cookie(cookieSession); err == nil {
		if s, _, err := p.auth.Session(r.Context(), c.Value); err == nil {
			p.auth.EndSession(r.Context(), s.UserID, s.ID)
		}
	}
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	cookie, _, err := p.auth.CreateSession(r.Context(), authority.Session{UserID: u.ID, MFA: mfa, Source: clientAddr(r), UserAgent: ua}, p.ttl)
	if err != nil {
		p.unavailable(w, err)
		return
	}
	p.setCookie(w, cookieSession, cookie, p.ttl)
	if u.Password != nil && u.Password.MustChange {
		next = "/password?" + url.Values{"next": {next}}.Encode()
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	if s, _, err := p.Current(r); err == nil {
		p.auth.EndSession(r.Context(), s.UserID, s.ID)
	}
	p.setCookie(w, cookieSession, "", 0)
	p.pages.Render(w, http.StatusOK, "message", struct{ Title, Message string }{"You are signed out", "You have been signed out of Headwater. Close the browser to sign out of apps that keep their own session."})
}

// App is one tile of the portal.
type App struct {
	Name, URL, Initial string
}

func (p *Portal) apps(ctx context.Context, u *authority.User) []App {
	sps, err := p.auth.ListServiceProviders(ctx)
	if err != nil {
		p.log.Warn("listing service providers for tiles", "err", err)
		return nil
	}
	var out []App
	for _, sp := range sps {
		if ok, _ := p.auth.MayUseServiceProvider(ctx, u, sp); !ok {
			continue
		}
		name := sp.Name
		if name == "" {
			name = sp.EntityID
			if pu, err := url.Parse(sp.EntityID); err == nil && pu.Host != "" {
				name = pu.Host
			}
		}
		initial := "?"
		for _, r := range name {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				initial = strings.ToUpper(string(r))
				break
			}
		}
		out = append(out, App{Name: name, URL: "/saml/idp-initiated?" + url.Values{"sp": {sp.EntityID}}.Encode(), Initial: initial})
	}
	return out
}

type homeData struct {
	User        *authority.User
	Name, Email string
	CSRF        string
	SessionID   string
	Flash       string
	Error       string
	Rules       []string
	Apps        []App
	Status      []authority.DeliveryStatus
	Sessions    []authority.Session
}

func displayName(u *authority.User) string {
	switch {
	case u.Name.GivenName != "":
		return u.Name.GivenName
	case u.DisplayName != "":
		return u.DisplayName
	}
	return u.UserName
}

func (p *Portal) homeData(ctx context.Context, s *authority.Session, u *authority.User) homeData {
	d := homeData{User: u, Name: displayName(u), Email: u.PrimaryEmail(), CSRF: p.csrfFor(s.ID), SessionID: s.ID,
		Rules: p.auth.Policy().Describe(), Apps: p.apps(ctx, u)}
	d.Status, _ = p.auth.ChangeStatus(ctx, u.ID)
	d.Sessions, _ = p.auth.Sessions(ctx, u.ID)
	return d
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.Require(w, r, "/", time.Time{})
	if !ok {
		return
	}
	d := p.homeData(r.Context(), s, u)
	switch r.URL.Query().Get("done") {
	case "password":
		d.Flash = "Your password was changed. The panel below shows where the change has reached."
	case "profile":
		d.Flash = "Your profile was saved."
	case "mfa":
		d.Flash = "Your authenticator is set up: sign-ins now ask for a code."
	case "mfa-removed":
		d.Flash = "Your authenticator was removed."
	}
	p.pages.Render(w, http.StatusOK, "home", d)
}

// form checks the session and the CSRF token of a portal form.
func (p *Portal) form(w http.ResponseWriter, r *http.Request) (*authority.Session, *authority.User, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	s, u, err := p.Current(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil, nil, false
	}
	if !p.checkCSRF(r, s.ID) {
		p.pages.Error(w, http.StatusForbidden, "This form expired", "The page was open too long or came from elsewhere. Go back, reload it and try again.", "")
		return nil, nil, false
	}
	return s, u, true
}

func (p *Portal) actor(r *http.Request, u *authority.User) context.Context {
	return authority.WithActor(r.Context(), authority.Actor{Name: "portal:" + u.UserName, Source: clientAddr(r)})
}

func (p *Portal) profile(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.form(w, r)
	if !ok {
		return
	}
	given, family, disp := strings.TrimSpace(r.PostFormValue("givenName")), strings.TrimSpace(r.PostFormValue("familyName")), strings.TrimSpace(r.PostFormValue("displayName"))
	_, err := p.auth.UpdateUser(p.actor(r, u), u.ID, 0, func(x *authority.User) error {
		x.Name.GivenName, x.Name.FamilyName, x.DisplayName = given, family, disp
		return nil
	})
	if err != nil {
		var ie *authority.InvalidError
		if errors.As(err, &ie) {
			d := p.homeData(r.Context(), s, u)
			d.Error = "Your profile was not saved: " + ie.Error()
			p.pages.Render(w, http.StatusBadRequest, "home", d)
			return
		}
		p.unavailable(w, err)
		return
	}
	http.Redirect(w, r, "/?done=profile", http.StatusSeeOther)
}

// policyMessage words a policy failure for a form.
func policyMessage(err error) string {
	var pe *authority.PolicyError
	if errors.As(err, &pe) {
		msgs := make([]string, len(pe.Violations))
		for i, v := range pe.Violations {
			msgs[i] = v.Message
		}
		return "Your new password " + strings.Join(msgs, "; it ") + "."
	}
	return ""
}

type passwordData struct {
	CSRF, Next, Error, Action, Token, Name string
	Activation                             bool
	Rules                                  []string
}

func (p *Portal) forcedPasswordPage(w http.ResponseWriter, r *http.Request) {
	s, _, err := p.Current(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	p.pages.Render(w, http.StatusOK, "password", passwordData{CSRF: p.csrfFor(s.ID), Next: safeNext(r.URL.Query().Get("next")),
		Action: "/password", Rules: p.auth.Policy().Describe()})
}

func (p *Portal) password(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.form(w, r)
	if !ok {
		return
	}
	forced := u.Password != nil && u.Password.MustChange
	fail := func(status int, msg string) {
		if forced {
			p.pages.Render(w, status, "password", passwordData{CSRF: p.csrfFor(s.ID), Next: safeNext(r.PostFormValue("next")),
				Action: "/password", Error: msg, Rules: p.auth.Policy().Describe()})
			return
		}
		d := p.homeData(r.Context(), s, u)
		d.Error = msg
		p.pages.Render(w, status, "home", d)
	}
	cur, nw, conf := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	if nw != conf {
		fail(http.StatusBadRequest, "The two new passwords are not the same.")
		return
	}
	ctx := p.actor(r, u)
	if _, err := p.auth.Authenticate(ctx, u.UserName, cur, clientAddr(r)); err != nil {
		var te *authority.ThrottledError
		if errors.As(err, &te) {
			fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %d seconds.", int(te.RetryAfter.Seconds())+1))
			return
		}
		fail(http.StatusUnauthorized, "Your current password is not correct.")
		return
	}
	if err := p.auth.SetPassword(ctx, u.ID, nw, false); err != nil {
		if msg := policyMessage(err); msg != "" {
			fail(http.StatusBadRequest, msg)
			return
		}
		p.unavailable(w, err)
		return
	}
	next := "/?done=password"
	if forced {
		if n := safeNext(r.PostFormValue("next")); n != "/" {
			next = n
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (p *Portal) status(w http.ResponseWriter, r *http.Request) {
	s, u, err := p.Current(r)
	if err != nil || s == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"sign in first"}`))
		return
	}
	st, err := p.auth.ChangeStatus(r.Context(), u.ID)
	if err != nil {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	if st == nil {
		st = []authority.DeliveryStatus{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(st)
}

type mfaData struct {
	CSRF, Secret, Error, Enrolment string
	QR                             template.URL // a data: URL, trusted: made here
}

func (p *Portal) mfaPage(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.Require(w, r, "/mfa", time.Time{})
	if !ok {
		return
	}
	p.renderEnrol(w, r, s, u, "", http.StatusOK)
}

func (p *Portal) renderEnrol(w http.ResponseWriter, r *http.Request, s *authority.Session, u *authority.User, msg string, status int) {
	key, enrol, err := p.auth.BeginTOTP(r.Context(), u.ID)
	if err != nil {
		p.unavailable(w, err)
		return
	}
	img, err := key.Image(200, 200)
	if err != nil {
		p.unavailable(w, err)
		return
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	p.pages.Render(w, status, "mfa", mfaData{CSRF: p.csrfFor(s.ID), QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
		Secret: key.Secret(), Error: msg, Enrolment: enrol})
}

func (p *Portal) mfaConfirm(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.form(w, r)
	if !ok {
		return
	}
	err := p.auth.ConfirmTOTP(p.actor(r, u), u.ID, r.PostFormValue("enrolment"), r.PostFormValue("code"), clientAddr(r))
	if err != nil {
		var ie *authority.InvalidError
		var te *authority.ThrottledError
		switch {
		case errors.Is(err, authority.ErrInvalidCode):
			p.renderEnrol(w, r, s, u, "That code did not match. Scan the new code below and try again.", http.StatusBadRequest)
		case errors.As(err, &te):
			p.renderEnrol(w, r, s, u, "Too many attempts; wait a minute and try again.", http.StatusTooManyRequests)
		case errors.As(err, &ie):
			p.renderEnrol(w, r, s, u, ie.Reason, http.StatusBadRequest)
		default:
			p.unavailable(w, err)
		}
		return
	}
	http.Redirect(w, r, "/?done=mfa", http.StatusSeeOther)
}

func (p *Portal) mfaRemove(w http.ResponseWriter, r *http.Request) {
	_, u, ok := p.form(w, r)
	if !ok {
		return
	}
	if err := p.auth.RemoveTOTP(p.actor(r, u), u.ID); err != nil {
		p.unavailable(w, err)
		return
	}
	http.Redirect(w, r, "/?done=mfa-removed", http.StatusSeeOther)
}

func (p *Portal) endSession(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.form(w, r)
	if !ok {
		return
	}
	id := r.PostFormValue("id")
	p.auth.EndSession(r.Context(), u.ID, id)
	if id == s.ID {
		p.setCookie(w, cookieSession, "", 0)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (p *Portal) activatePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, err := p.auth.ActivationUser(r.Context(), token)
	if err != nil {
		p.linkError(w, err)
		return
	}
	p.pages.Render(w, http.StatusOK, "password", passwordData{CSRF: p.csrfFor(p.preBinding(w, r)), Action: "/activate", Token: token,
		Activation: true, Name: displayName(u), Rules: p.auth.Policy().Describe()})
}

func (p *Portal) linkError(w http.ResponseWriter, err error) {
	if errors.Is(err, authority.ErrLinkInvalid) {
		p.pages.Error(w, http.StatusGone, "This link cannot be used", err.Error(), "")
		return
	}
	p.unavailable(w, err)
}

func (p *Portal) activateSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	pre := p.preBinding(w, r)
	token := r.PostFormValue("token")
	u, err := p.auth.ActivationUser(r.Context(), token)
	if err != nil {
		p.linkError(w, err)
		return
	}
	d := passwordData{CSRF: p.csrfFor(pre), Action: "/activate", Token: token, Activation: true, Name: displayName(u), Rules: p.auth.Policy().Describe()}
	if !p.checkCSRF(r, pre) {
		d.Error = "This form expired. Please try again."
		p.pages.Render(w, http.StatusForbidden, "password", d)
		return
	}
	if r.PostFormValue("new") != r.PostFormValue("confirm") {
		d.Error = "The two passwords are not the same."
		p.pages.Render(w, http.StatusBadRequest, "password", d)
		return
	}
	ctx := authority.WithActor(r.Context(), authority.Actor{Name: "activation:" + u.UserName, Source: clientAddr(r)})
	u, err = p.auth.ActivateWithLink(ctx, token, r.PostFormValue("new"))
	if err != nil {
		if msg := policyMessage(err); msg != "" {
			d.Error = msg
			p.pages.Render(w, http.StatusBadRequest, "password", d)
			return
		}
		p.linkError(w, err)
		return
	}
	p.startSession(w, r, u, false, "/")
}
