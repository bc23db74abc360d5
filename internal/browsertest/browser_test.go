package browsertest_test

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/headwater/headwater/internal/browsertest"
)

// TestFormRoundTrip drives a login-shaped form: fill, submit, follow a
// redirect, read the page and keep a screenshot.
func TestFormRoundTrip(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><html><body><h1>Sign in</h1>
<form method="post" action="/login">
<input name="username"> <input name="password" type="password">
<button type="submit" name="action" value="signin">Sign in</button>
</form></body></html>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := "user=" + r.PostForm.Get("username") + "&pw=" + r.PostForm.Get("password") + "&action=" + r.PostForm.Get("action")
		http.Redirect(w, r, "/welcome?"+q, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /welcome", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><p>Hello, %s (%d-char password, via %s).</p></body></html>`,
			html.EscapeString(q.Get("user")), len(q.Get("pw")), html.EscapeString(q.Get("action")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx := browsertest.NewBrowser(t)
	browsertest.Navigate(t, ctx, srv.URL+"/login")
	browsertest.Fill(t, ctx, "username", "ada")
	browsertest.Fill(t, ctx, "password", "correct horse")
	browsertest.Submit(t, ctx, "password")
	got := browsertest.WaitURLPrefix(t, ctx, srv.URL+"/welcome")
	if !strings.Contains(got, "user=ada") {
		t.Errorf("landed on %s, want the welcome page for ada", got)
	}
	text := browsertest.PageText(t, ctx)
	if want := "Hello, ada (13-char password, via signin)."; !strings.Contains(text, want) {
		t.Errorf("page text = %q, want it to contain %q", text, want)
	}
	if u := browsertest.URL(t, ctx); u != got {
		t.Errorf("URL() = %s, WaitURLPrefix gave %s", u, got)
	}

	path := browsertest.Screenshot(t, ctx, "welcome")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", path)
	}
	if want := "TestFormRoundTrip-welcome.png"; !strings.HasSuffix(path, want) {
		t.Errorf("screenshot path %s does not end in %s", path, want)
	}
}
