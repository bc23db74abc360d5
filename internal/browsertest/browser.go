// Package browsertest drives Debian's headless Chromium from Go tests
// (through chromedp), so end-to-end tests use the pages as a person would:
// navigate, fill in forms, submit, read, and keep screenshots.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// ArtifactsEnv names the directory that screenshots go to; unset, they go
// to a temporary directory of the test.
const ArtifactsEnv = "HEADWATER_ARTIFACTS"

// actionTimeout bounds one helper call so that a page that never arrives
// fails the test with a message instead of hanging until go test's
// timeout. It is a guard, not a performance expectation.
const actionTimeout = 30 * time.Second

// NewBrowser starts a headless Chromium with a fresh profile and returns
// the context of its one tab; the browser is closed when the test ends
// (after a screenshot named "failed" if the test failed). Use the context
// with the helpers here or with chromedp.Do and chromedp.Run directly.
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			t.Fatalf("browsertest: %s is missing (found %s, but the tests use Debian's build); scripts/test-deps.sh installs the chromium package", ChromiumPath, p)
		}
		t.Fatalf("browsertest: %s is missing: scripts/test-deps.sh installs Debian's chromium package", ChromiumPath)
	}
	profile := t.TempDir()

	// chromedp logs from its own goroutines; t.Logf must not be called once
	// the test is over, so the logger goes quiet before the browser closes.
	var logMu sync.Mutex
	closed := false
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		if !closed {
			t.Logf("chromedp: "+format, args...)
		}
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		logMu.Lock()
		closed = true
		logMu.Unlock()
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
	})
	// The first Do starts the browser and binds it to ctx, which has no
	// deadline; later helpers put deadlines on contexts derived from it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: starting %s: %v", ChromiumPath, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if path, err := screenshot(t, ctx, "failed"); err == nil {
				t.Logf("browsertest: screenshot at failure: %s", path)
			}
		}
	})
	return ctx
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, actionTimeout)
}

// Navigate loads url and waits for its load event.
func Navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("browsertest: navigating to %s: %v", url, err)
	}
}

// fieldSelector finds a form control by its name attribute.
func fieldSelector(name string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`[name=%q]`, name))
}

// Fill types value into the visible form field called name, replacing what
// it held.
func Fill(t testing.TB, ctx context.Context, name, value string) {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	sel := fieldSelector(name)
	quoted, err := json.Marshal(string(sel))
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	// Empty the field first (chromedp's SetValue cannot set ""), then type
	// into it, so the page sees key events as from a person.
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible(sel),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).value = ""`, quoted)),
		chromedp.SendKeys(sel, value),
	); err != nil {
		t.Fatalf("browsertest: filling field %q on %s: %v", name, currentURL(ctx), err)
	}
}

// submitJS submits the form that owns the control the selector selects, as a person
// would: by clicking its submit button when it has one (so the button's
// name and value go along), else with requestSubmit (which runs validation
// and submit handlers, unlike form.submit()).
const submitJS = `(() => {
	const field = document.querySelector(%s);
	const form = field && (field.form || field.closest('form'));
	if (!form) { return false; }
	const button = form.querySelector('button[type=submit], input[type=submit], button:not([type])');
	if (button) { button.click(); } else { form.requestSubmit(); }
	return true;
})()`

// Submit submits the form that holds the field called name. It does not
// wait for the next page: follow it with WaitURLPrefix.
func Submit(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	sel := fieldSelector(name)
	quoted, err := json.Marshal(string(sel))
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	if err := chromedp.Do(tctx, chromedp.WaitReady(sel)); err != nil {
		t.Fatalf("browsertest: waiting for field %q on %s: %v", name, currentURL(ctx), err)
	}
	ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](fmt.Sprintf(submitJS, quoted)))
	if err != nil {
		t.Fatalf("browsertest: submitting the form of field %q on %s: %v", name, currentURL(ctx), err)
	}
	if !ok {
		t.Fatalf("browsertest: field %q on %s is in no form", name, currentURL(ctx))
	}
}

// Click clicks the element that the CSS selector finds first.
func Click(t testing.TB, ctx context.Context, css string) {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(css))); err != nil {
		t.Fatalf("browsertest: clicking %s on %s: %v", css, currentURL(ctx), err)
	}
}

// PageText is the text of the page as a person sees it (body.innerText).
func PageText(t testing.TB, ctx context.Context) string {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	text, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		t.Fatalf("browsertest: reading the text of %s: %v", currentURL(ctx), err)
	}
	return text
}

// URL is the address of the page in the tab.
func URL(t testing.TB, ctx context.Context) string {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	u, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil {
		t.Fatalf("browsertest: reading the tab's URL: %v", err)
	}
	return u
}

// currentURL is URL for error messages: best effort, never failing.
func currentURL(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil {
		return "(unknown page)"
	}
	return u
}

// WaitURLPrefix waits until the tab shows a fully loaded page whose URL
// starts with prefix (redirects and auto-submitting forms on the way are
// followed by the browser), and returns that URL.
func WaitURLPrefix(t testing.TB, ctx context.Context, prefix string) string {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	last := ""
	for {
		// The page may be between documents; an error here just means
		// "not yet", so keep asking until the deadline.
		st, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`[location.href, document.readyState]`))
		if err == nil && len(st) == 2 {
			last = st[0]
			if strings.HasPrefix(st[0], prefix) && st[1] == "complete" {
				return st[0]
			}
		}
		select {
		case <-tctx.Done():
			t.Fatalf("browsertest: the tab never reached a page under %s; it is at %s", prefix, last)
			return ""
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Screenshot saves a full-page PNG named after the test and step into
// $HEADWATER_ARTIFACTS (else a temporary directory of the test) and
// returns its path.
func Screenshot(t testing.TB, ctx context.Context, step string) string {
	t.Helper()
	path, err := screenshot(t, ctx, step)
	if err != nil {
		t.Fatalf("browsertest: screenshot %q: %v", step, err)
	}
	t.Logf("browsertest: screenshot %s", path)
	return path
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func screenshot(t testing.TB, ctx context.Context, step string) (string, error) {
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		return "", err
	}
	name := unsafeFileChars.ReplaceAllString(t.Name(), "_") + "-" + unsafeFileChars.ReplaceAllString(step, "_") + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// WaitText waits until the page's visible text contains text (after a
// form posted back to the same address, say) and returns the page text.
func WaitText(t testing.TB, ctx context.Context, text string) string {
	t.Helper()
	tctx, cancel := withTimeout(ctx)
	defer cancel()
	last := ""
	for {
		got, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.readyState === "complete" && document.body ? document.body.innerText : ""`))
		if err == nil {
			last = got
			if strings.Contains(got, text) {
				return got
			}
		}
		select {
		case <-tctx.Done():
			t.Fatalf("browsertest: the page never showed %q; it shows:\n%s", text, last)
			return ""
		case <-time.After(50 * time.Millisecond):
		}
	}
}
