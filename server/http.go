package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/headwater/headwater/authority"
	"github.com/headwater/headwater/authority/store"
	"github.com/headwater/headwater/internal/web"
	"github.com/headwater/headwater/server/api"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(st *store.Etcd) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headwater_http_requests_total", Help: "HTTP requests by area and status code.",
		}, []string{"area", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "headwater_http_request_duration_seconds", Help: "HTTP request latency by area.",
			Buckets: prometheus.DefBuckets,
		}, []string{"area"}),
	}
	reg.MustRegister(m.requests, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "headwater_users", Help: "Users in the index."}, func() float64 {
			u, _ := st.Counts()
			return float64(u)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "headwater_groups", Help: "Groups in the index."}, func() float64 {
			_, g := st.Counts()
			return float64(g)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "headwater_index_revision", Help: "etcd revision the index has applied."}, func() float64 {
			return float64(st.Revision())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "headwater_index_ready", Help: "1 once the index is loaded."}, func() float64 {
			if st.Ready() {
				return 1
			}
			return 0
		}),
	)
	return m
}

type handlerDeps struct {
	auth    *authority.Authority
	api     http.Handler
	scim    http.Handler
	web     http.Handler // portal and SAML: everything else
	saml    http.Handler
	metrics *metrics
	log     *slog.Logger
}

// newHandler is the HTTP listener's router: probes, metrics, the admin
// API and SCIM; SAML and the portal mount here in their issues.
func newHandler(d handlerDeps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", newReadiness(d.auth))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", d.api)
	mux.Handle("/scim/v2/", d.scim)
	mux.Handle("/assets/", web.Assets())
	mux.Handle("/saml/", d.saml)
	mux.Handle("/", d.web)
	return instrument(mux, d.metrics, d.log)
}

// readiness answers /readyz: the index is loaded and etcd takes writes.
// The etcd check is cached for a second so that probes cannot load etcd.
type readiness struct {
	auth *authority.Authority
	mu   sync.Mutex
	at   time.Time
	err  error
}

func newReadiness(a *authority.Authority) *readiness { return &readiness{auth: a} }

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := map[string]string{"index": "loaded", "store": "ok"}
	code := http.StatusOK
	if !rd.auth.Ready() {
		status["index"] = "loading"
		code = http.StatusServiceUnavailable
	}
	if err := rd.check(r.Context()); err != nil {
		status["store"] = err.Error()
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(status)
}

func (rd *readiness) check(ctx context.Context) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.at) < time.Second {
		return rd.err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rd.err = rd.auth.Health(ctx)
	rd.at = time.Now()
	return rd.err
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument counts and logs requests, and recovers from handler panics
// so that one bad request cannot take the process down.
func instrument(next http.Handler, m *metrics, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		area := areaOf(r.URL.Path)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
				if sw.code == 0 {
					http.Error(sw, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(area, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(area).Observe(time.Since(start).Seconds())
			level := slog.LevelDebug
			if code >= 500 {
				level = slog.LevelWarn
			}
			log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "status", code,
				"duration", time.Since(start).Round(time.Microsecond), "remote", api.ClientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

// areaOf keeps metric labels few: the first path segment.
func areaOf(path string) string {
	switch {
	case len(path) >= 7 && path[:7] == "/api/v1":
		return "api"
	case len(path) >= 5 && path[:5] == "/scim":
		return "scim"
	case len(path) >= 5 && path[:5] == "/saml":
		return "saml"
	case path == "/healthz", path == "/readyz", path == "/metrics":
		return path[1:]
	}
	return "other"
}

// lazy builds a handler on first use and retries until it succeeds, so a
// store that is briefly unreachable at start does not stop the server:
// until then the pages answer 503.
type lazy struct {
	mu    sync.Mutex
	build func(ctx context.Context) (http.Handler, error)
	h     http.Handler
	log   *slog.Logger
	what  string
}

func (l *lazy) get(ctx context.Context) (http.Handler, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		return l.h, nil
	}
	h, err := l.build(ctx)
	if err != nil {
		return nil, err
	}
	l.h = h
	return h, nil
}

func (l *lazy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := l.get(r.Context())
	if err != nil {
		l.log.Error("starting "+l.what+" failed; will retry on the next request (replicas must share the sealing key file)", "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Headwater's sign-in pages are not available yet (still starting, or a configuration problem the server log names). Try again shortly.", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
