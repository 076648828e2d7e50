// Package web serves Vigil's HTTP interface: the status page, the public
// status routes (text, JSON report, badges), the theme's static files and,
// registered in routes.go, the reporter and manager APIs.
//
// The page and the JSON report are rendered once per monitor state and kept
// as bytes (plain and gzip), so the crowd that reloads a status page during
// an outage costs a map lookup and a write, or a 304.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// Source publishes the monitor's state; Snapshot never blocks and returns an immutable value.
//
// The returned snapshot's Version must change whenever anything in it
// changes: the server caches what it renders per version.
type Source interface {
	Snapshot() *status.Snapshot
}

// Announcement is a message shown on the page above the services.
type Announcement struct {
	Title     string
	Text      string    // plain text; newlines become line breaks on the page
	Published time.Time // zero: no date shown
}

// Options configures a Server. Config and Source are required.
type Options struct {
	// Config supplies the branding, the assets path and the server section.
	Config *config.Config
	// Source publishes the monitor's state.
	Source Source
	// Store, when set, keeps the announcements, maintenance windows,
	// incidents and history the page shows, and serves the manager API
	// (/manager/…) and the history feeds (/status/history/…,
	// /status/incidents, /status/feed.atom). Without it those routes answer
	// 404 and the page shows no history. What the page shows is read into
	// memory at New and after every write through the manager API; history
	// recorded by others shows within a minute.
	Store Store
	// Alerting, when set, keeps the reminder muting of
	// /manager/prober/alerts/ignored/; without it the server keeps the
	// deadline in memory, as Vigil does.
	Alerting Alerting
	// Reporter, when set, receives the reports of push and local replicas
	// (POST and DELETE /reporter/…); without it those routes answer 404.
	Reporter Reporter
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
	// Version is the binary's version. It is part of the ?v= cache buster of
	// the page's stylesheets and scripts. Empty means "dev".
	Version string
	// Now returns the current time (the footer year, "Last report" dates);
	// nil means time.Now.
	Now func() time.Time
	// Metrics, when set and [server] metrics_enabled is true, serves
	// GET /metrics and counts the reporter API's answers (see metrics.go).
	Metrics Metrics
	// Readiness, when set, answers GET /readyz (see health.go); without it
	// /readyz answers 200 like /healthz.
	Readiness Readiness
	// Subscriptions, when set (with [subscriptions] enabled), puts the
	// "Get updates by e-mail" form on the page and serves its routes and
	// the manager's subscriber routes; see subscribe.go.
	Subscriptions Subscriptions
	// ChecksLate, when set, reports how late the checks start against
	// their schedule (the monitor's Lateness). Serving then uses every CPU
	// while the checks keep their schedule and fewer as soon as they fall
	// behind; without it, serving keeps to half of the CPUs (bound.go).
	ChecksLate func() time.Duration
}

// Server is Vigil's HTTP handler. Create it with New; it is safe for
// concurrent use.
type Server struct {
	cfg      *config.Config
	source   Source
	data     *data        // nil without a store
	store    managerStore // what the manager API writes; nil without a store
	alerting Alerting
	reporter Reporter
	metrics  Metrics // nil unless metrics are enabled
	log      *slog.Logger
	now      func() time.Time
	version  string // the binary's version, "dev" when unknown
	theme    *theme

	mux     *http.ServeMux
	handler http.Handler

	zone zone // how times read on the page and in the feed
	// bound keeps serving to the CPUs the checks can spare (bound.go):
	// every memo of the server is made with it by newMemo.
	bound     *bound
	page      *memo[pageKey]
	fragments historyFragments // each node's rendered history
	report    *memo[*status.Snapshot]
	// statuspage holds the Statuspage-shaped API's documents (statuspage.go).
	statuspage statuspageDocs
	// The public history routes change only with a history load (and the
	// feed with the announcements): rendered once per change, like the page.
	incidents *memo[*history]
	feed      *memo[feedKey]
	mcpServer *mcp.Server   // nil unless [server] mcp_server is on
	subs      Subscriptions // nil unless subscriptions are enabled

	readiness Readiness // nil: ready while serving
}

// New checks the options, loads the theme (the custom one in
// cfg.Assets.Path when it holds templates/index.html, the embedded one
// otherwise), reads what the page shows from the store within ctx, and
// registers the routes. A missing assets directory is not an error; a
// custom theme whose templates do not parse is.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Config == nil {
		return nil, errors.New("web: no config")
	}
	if o.Source == nil {
		return nil, errors.New("web: no source")
	}
	s := &Server{
		cfg:      o.Config,
		zone:     zoneOf(o.Config.Branding.Location),
		source:   o.Source,
		reporter: o.Reporter,
		metrics:  enabledMetrics(o),
		log:      o.Logger,
		now:      o.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.bound = newBound(o.ChecksLate, time.Now)
	s.page, s.report = newMemo[pageKey](s.bound), newMemo[*status.Snapshot](s.bound)
	s.incidents, s.feed = newMemo[*history](s.bound), newMemo[feedKey](s.bound)
	version := o.Version
	if version == "" {
		version = "dev"
	}
	s.version = version
	t, err := loadTheme(o.Config.Assets.Path, version, s.log)
	if err != nil {
		return nil, err
	}
	s.theme = t
	if o.Config.Subscriptions.Enabled {
		s.subs = o.Subscriptions
	}
	s.alerting = o.Alerting
	s.readiness = o.Readiness
	if s.alerting == nil {
		s.alerting = &memoryAlerting{now: s.now}
	}
	if o.Store != nil {
		s.store = o.Store
		s.data = &data{st: o.Store, now: s.now, src: s.snapshot, log: s.log, started: s.now(), stale: make(chan struct{}, 1)}
		ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		defer cancel()
		if err := s.data.reloadAnnouncements(ctx); err != nil {
			return nil, fmt.Errorf("web: read announcements: %w", err)
		}
		if err := s.data.reloadHistory(ctx); err != nil {
			return nil, fmt.Errorf("web: read history: %w", err)
		}
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.handler = normalizePath(s.mux)
	if p := s.cfg.Server.PathPrefix; p != "" {
		s.handler = underPrefix(p, s.handler)
	}
	s.handler = withHeaders(securityHeaders(s.cfg, t.disk != nil), s.handler)
	s.handler = s.recoverPanics(s.handler)
	return s, nil
}

// Run keeps what the server shows from the store fresh, until ctx ends:
// the history is read again when a page view finds it stale. The caller
// owns it and waits for it to return before closing the store; without
// Run, the history stays as New read it.
func (s *Server) Run(ctx context.Context) {
	if s.data == nil {
		<-ctx.Done()
		return
	}
	s.data.run(ctx)
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// snapshot returns the monitor's current state, never nil.
func (s *Server) snapshot() *status.Snapshot {
	if snap := s.source.Snapshot(); snap != nil {
		return snap
	}
	return &status.Snapshot{}
}

// notFound answers 404 with an empty body, as Vigil does for unknown paths
// and wrong methods alike.
func notFound(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}

// underPrefix serves next under prefix (server.path_prefix, as validated:
// clean, without a trailing slash): prefix/x reaches next as /x, and any
// path outside the prefix gets Vigil's empty 404. The prefix itself is
// redirected to prefix/, where the page's relative links resolve under it.
func underPrefix(prefix string, next http.Handler) http.Handler {
	strip := http.StripPrefix(prefix, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == prefix:
			to := prefix + "/"
			if r.URL.RawQuery != "" {
				to += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, to, http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, prefix+"/"):
			strip.ServeHTTP(w, r)
		default:
			notFound(w, r)
		}
	})
}

// normalizePath trims trailing slashes and merges repeated ones before
// routing, so "/status/text/", "//status//text" and "/status/text" are one
// route (Vigil's clients use the trailing-slash forms). Paths with "." or
// ".." segments, also percent-encoded, are answered 404: no route has them
// and no file may be reached through them.
func normalizePath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		escaped := r.URL.EscapedPath()
		clean, ok := cleanPath(escaped)
		if !ok {
			notFound(w, r)
			return
		}
		if clean != escaped {
			decoded, err := url.PathUnescape(clean)
			if err != nil {
				notFound(w, r)
				return
			}
			r2 := new(http.Request)
			*r2 = *r
			r2.URL = new(url.URL)
			*r2.URL = *r.URL
			r2.URL.Path = decoded
			r2.URL.RawPath = clean
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath merges repeated slashes and drops trailing ones in an escaped
// path. It reports false for a path holding a "." or ".." segment or an
// invalid escape.
func cleanPath(escaped string) (string, bool) {
	var b strings.Builder
	b.Grow(len(escaped))
	for seg := range strings.SplitSeq(escaped, "/") {
		if seg == "" {
			continue
		}
		decoded, err := url.PathUnescape(seg)
		if err != nil || decoded == "." || decoded == ".." {
			return "", false
		}
		b.WriteByte('/')
		b.WriteString(seg)
	}
	if b.Len() == 0 {
		return "/", true
	}
	return b.String(), true
}

// recoverPanics turns a panic in a handler into a logged stack and a 500, so
// no visitor ever sees a reset connection because of a bug. When the
// response had already started, the connection is aborted instead, so the
// client cannot mistake a truncated body for a whole one.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request",
				"method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if tw.started {
				panic(http.ErrAbortHandler)
			}
			h := w.Header()
			for k := range h {
				delete(h, k)
			}
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "internal server error")
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has started.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
