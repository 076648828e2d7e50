package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/metrics"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/subscribe"
	"github.com/vigil-go/vigil/internal/web"
)

// watchEvery is how often the config file is read for a change with
// [server] watch_config. A change is applied once the file has stayed the
// same for one more look, so an editor's save in several writes is read
// once, complete.
const watchEvery = 2 * time.Second

// reloader reads the config again on request (SIGHUP) or when its file
// changes, and applies it to the running parts: the monitor, the alerting,
// the cluster's per-node settings and the web server. config.Diff decides
// what changed; a key that needs a restart keeps its running value
// (config.Changes.Effective) and is logged.
type reloader struct {
	log     *slog.Logger
	level   *slog.LevelVar // [server] log_level
	version string
	build   func(context.Context, *config.Config) (*web.Server, http.Handler, error)
	mon     *monitor.Monitor
	tuning  *clusterTuning     // nil outside a cluster
	alerts  *alerts            // nil without [notify]
	subs    *subscribe.Service // nil without [subscriptions]
	met     *metrics.Metrics   // nil without metrics
	handler swapHandler        // what the HTTP server serves
	watch   atomic.Bool        // [server] watch_config of the running config

	mu   sync.Mutex // one reload at a time; guards what follows
	cfg  *config.Config
	site *web.Server
	seen [sha256.Size]byte // the file's content when last read
	// stopSite ends the Run of the web server in use and waits for it.
	stopSite func()
}

// runSite runs site's refresh until stopSite or the end of ctx. The
// reloader owns it: a replaced server's refresh never outlives it.
// r.mu must be held.
func (r *reloader) runSite(ctx context.Context, site *web.Server) {
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		site.Run(sctx)
	}()
	r.stopSite = func() {
		cancel()
		<-done
	}
}

// newReloader returns the reloader of the running config cfg. It notes
// the file's content now, before anything is served, so that a change
// made once vigil answers is seen as one.
func newReloader(r *reloader) *reloader {
	r.seen, _ = fileSum(r.cfg.File)
	r.watch.Store(r.cfg.Server.WatchConfig)
	return r
}

// run applies a reload for each request until ctx ends, and watches the
// config file while the running config says so.
func (r *reloader) run(ctx context.Context, requests <-chan struct{}, every time.Duration) {
	r.mu.Lock()
	path := r.cfg.File // a reload reads the same file
	r.runSite(ctx, r.site)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.stopSite()
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var changed *[sha256.Size]byte // a change seen, waiting one look to settle
	for {
		select {
		case <-ctx.Done():
			return
		case <-requests:
			r.reload(ctx, "SIGHUP")
			changed = nil
			continue
		case <-tick.C:
		}
		if !r.watch.Load() {
			changed = nil
			continue
		}
		// Read by path each time: an editor that saves by writing a new
		// file and renaming it over the old one is seen like any other.
		sum, err := fileSum(path)
		if err != nil {
			continue // removed, or between an editor's unlink and rename: wait
		}
		r.mu.Lock()
		same := sum == r.seen
		r.mu.Unlock()
		switch {
		case same:
			changed = nil
		case changed == nil || *changed != sum:
			changed = &sum // still being written, maybe: look again
		default:
			changed = nil
			r.reload(ctx, "file changed")
		}
	}
}

// fileSum is the SHA-256 of the file at path.
func fileSum(path string) ([sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// reload reads the config and applies it, or refuses it with every
// problem logged. The file's content is noted either way, so that the
// watch does not read a refused file again until it changes.
func (r *reloader) reload(ctx context.Context, trigger string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log.Info("config reload", "trigger", trigger, "file", r.cfg.File)
	if sum, err := fileSum(r.cfg.File); err == nil {
		r.seen = sum
	}
	cur, warnings, err := config.Load(r.cfg.File, os.LookupEnv)
	for _, w := range warnings {
		r.log.Warn("config: " + w.String())
	}
	if err != nil {
		r.refuse(err)
		return
	}
	changes := config.Diff(r.cfg, cur)
	for _, key := range changes.Restart {
		r.log.Warn("config reload: "+key+" needs a restart; it keeps its running value until then", "key", key)
	}
	next := changes.Effective(r.cfg, cur)

	// Build the web server first: it is the one part that can still fail
	// (a custom theme that does not parse, a store that does not answer),
	// and then nothing is applied.
	site, handler, err := r.build(ctx, next)
	if err != nil {
		r.refuse(err)
		return
	}
	if len(changes.Added)+len(changes.Changed) > 0 && needsICMP(next) {
		if err := probe.ICMPAvailable(); err != nil {
			r.log.Warn("ICMP replicas will be reported dead: " + err.Error())
		}
	}
	r.level.Set(logLevel(next.Server.LogLevel))
	tasks := r.mon.Apply(next)
	if r.tuning != nil {
		r.tuning.set(next)
	}
	r.alerts.apply(ctx, next, r.version, r.log, r.met)
	if r.subs != nil {
		r.subs.Apply(next)
	}
	old := r.site
	r.site = site
	r.handler.set(handler)
	old.CloseSessions()    // MCP clients reconnect to the new server
	if r.stopSite != nil { // nil unless run runs
		r.stopSite()
		r.runSite(ctx, site)
	}
	r.cfg = next
	r.watch.Store(next.Server.WatchConfig)
	if r.met != nil {
		r.met.ConfigLoaded(true, time.Now())
	}
	r.log.Info("config reloaded", "trigger", trigger, "changed_keys", changes.Keys, "nodes_added", changes.Added,
		"nodes_removed", changes.Removed, "nodes_changed", changes.Changed, "probes_started", tasks.Started,
		"probes_stopped", tasks.Stopped, "needs_restart", changes.Restart)
}

// refuse logs why a reload was refused, each problem of a config error on
// its own line as check-config prints it, and keeps the running config.
func (r *reloader) refuse(err error) {
	var problems config.Errors
	if errors.As(err, &problems) {
		for _, p := range problems {
			r.log.Error("config reload refused: " + p.String())
		}
	} else {
		r.log.Error("config reload refused: " + err.Error())
	}
	r.log.Error("config reload refused: the running config stays", "file", r.cfg.File)
	if r.met != nil {
		r.met.ConfigLoaded(false, time.Now())
	}
}

// closeSessions closes the MCP sessions of the web server in use, at a
// stop.
func (r *reloader) closeSessions() {
	r.mu.Lock()
	site := r.site
	r.mu.Unlock()
	site.CloseSessions()
}

// swapHandler serves with the handler last set; a reload sets a new one
// while requests are served.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	(*s.h.Load()).ServeHTTP(w, req)
}
