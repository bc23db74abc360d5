// Package web holds what Headwater's browser-facing pages share: the
// layout and stylesheet, security headers (a strict Content-Security-Policy
// on every page), the error page and the auto-submitting form that carries
// a SAML message to another site.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

//go:embed assets templates
var files embed.FS

// Assets serves the stylesheet and scripts under /assets/.
func Assets() http.Handler {
	sub, _ := fs.Sub(files, "assets")
	fsrv := http.StripPrefix("/assets/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}

// Headers sets the security headers of an HTML page. Forms may post only
// to this site, plus the origins in formActions (a SAML service provider's
// assertion consumer service).
func Headers(w http.ResponseWriter, formActions ...string) {
	fa := "'self'"
	for _, a := range formActions {
		if u, err := url.Parse(a); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			fa += " " + u.Scheme + "://" + u.Host
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action "+fa+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// Pages renders named pages, each a template file that defines "main"
// (and optionally "title", "head", "nav") inside the shared layout.
type Pages struct {
	pages map[string]*template.Template
	log   *slog.Logger
}

// NewPages parses the layout and, for each page file of fsys matching
// pattern, a page named after the file without ".html".
func NewPages(fsys fs.FS, pattern string, funcs template.FuncMap, log *slog.Logger) (*Pages, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{pages: map[string]*template.Template{}, log: log}
	add := func(fsys fs.FS, pattern string) error {
		names, err := fs.Glob(fsys, pattern)
		if err != nil {
			return err
		}
		for _, n := range names {
			t, err := template.Must(base.Clone()).ParseFS(fsys, n)
			if err != nil {
				return fmt.Errorf("page %s: %w", n, err)
			}
			key := n[strings.LastIndex(n, "/")+1:]
			p.pages[strings.TrimSuffix(key, ".html")] = t
		}
		return nil
	}
	if err := add(files, "templates/error.html"); err != nil {
		return nil, err
	}
	if err := add(files, "templates/autopost.html"); err != nil {
		return nil, err
	}
	if fsys != nil {
		if err := add(fsys, pattern); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Render writes page name with data and the security headers.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, data any, formActions ...string) {
	t := p.pages[name]
	if t == nil {
		p.log.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		p.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	Headers(w, formActions...)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ErrorData is what the error page shows.
type ErrorData struct {
	Title, Message, Detail string
}

// Error renders the error page: a title, a sentence saying what happened
// and what to do, and an optional detail.
func (p *Pages) Error(w http.ResponseWriter, status int, title, message, detail string) {
	p.Render(w, status, "error", ErrorData{Title: title, Message: message, Detail: detail})
}

// Field is one hidden input of an auto-submitted form.
type Field struct{ Name, Value string }

// AutoPost renders a form that the browser submits at once to action (the
// HTTP-POST binding of SAML), allowing that origin as a form target.
func (p *Pages) AutoPost(w http.ResponseWriter, name, action string, fields []Field) {
	p.Render(w, http.StatusOK, "autopost", struct {
		Name, Action string
		Fields       []Field
	}{name, action, fields}, action)
}
