// Package daemon wires Vigil together: the logger, the store, the monitor and
// the web server, with a graceful shutdown.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/cluster"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/health"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/web"
)

// shutdownGrace bounds how long in-flight HTTP requests may take to finish
// after a stop signal.
const shutdownGrace = 5 * time.Second

// Options configures Run.
type Options struct {
	Config   *config.Config
	Warnings []config.Warning // printed once the logger exists
	Version  string
	Stdout   io.Writer // logs and the start banner; os.Stdout when nil
	// Ready, when set, is called with the listening address once the page is served.
	Ready func(addr net.Addr)
	// Reload, when set, asks for Config.File to be read again and applied
	// (SIGHUP); see reload.go.
	Reload <-chan struct{}
}

// Run serves Vigil until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	out := o.Stdout
	if out == nil {
		out = os.Stdout
	}
	cfg := o.Config
	log, level := NewLogger(out, cfg.Server.LogLevel)
	for _, w := range o.Warnings {
		log.Warn("config: " + w.String())
	}
	if needsICMP(cfg) {
		if err := probe.ICMPAvailable(); err != nil {
			log.Warn("ICMP replicas will be reported dead: " + err.Error())
		}
	}

	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store opened", "driver", st.Driver())

	// The status served and acted on is chosen once, here: the monitor's,
	// or the cluster's decided one. Its consumers subscribe to the feed
	// before the monitor runs.
	var tuning *clusterTuning
	var join func(*monitor.Monitor) (*cluster.Cluster, error)
	if cfg.Cluster.Enabled {
		tuning = newClusterTuning(cfg)
		join = func(mon *monitor.Monitor) (*cluster.Cluster, error) { return newCluster(ctx, cfg, log, mon, tuning) }
	}
	feed, err := newStatusFeed(monitor.Options{Config: cfg, Logger: log}, join)
	if err != nil {
		return err
	}
	mon, cl := feed.mon, feed.cl
	if cl != nil {
		defer cl.Close()
	}
	saved, err := restoreReplicas(ctx, st, mon, log)
	if err != nil {
		return err
	}
	hist, err := startHistory(ctx, cfg, st, log, feed, saved)
	if err != nil {
		return err
	}
	met := newMetrics(cfg, feed)
	alerts, err := newAlerts(ctx, cfg, st, log, o.Version, feed, met)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Inet)
	if err != nil {
		return fmt.Errorf("listen on %s (server.inet): %w", cfg.Server.Inet, err)
	}
	maxConns := connectionLimit(cfg.Server.MaxConnections)
	ln = limitListener(ln, maxConns, log)
	defer ln.Close() // when a later step fails; closed twice is harmless

	// Probing starts before the page is prepared (reading its history
	// takes a while on a big database): the first checks go out as soon as
	// the config is read and the address taken. The alerting and the
	// cluster start once the page is served, so that a start that fails
	// sends no notification. All of them run until the HTTP server has
	// stopped taking requests, not merely until the stop signal: a report
	// answered 200 just before the signal must still be published and
	// written.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait() // on every return: the last results are written before the store closes
	defer cancel()
	hist.run(runCtx, &wg, mon) // the monitor, and the history it records

	// The web server is built anew at each reload, from the config and the
	// reminder muting of the one before (kept in memory without [notify]).
	muting := alerts.control()
	// Readiness is latched once the first round is done: one for all the
	// servers reloads build.
	ready := health.New(health.Options{Ping: st.Ping, Snapshot: mon.Snapshot})
	subs := newSubscriptions(cfg, st, log, o.Version, feed)
	buildSite := func(ctx context.Context, cfg *config.Config) (*web.Server, http.Handler, error) {
		site, err := web.New(ctx, web.Options{Config: cfg, Source: feed, Reporter: feed, Store: st,
			Alerting: muting, Logger: log, Version: o.Version, Metrics: webMetrics(met), Readiness: ready,
			Subscriptions: webSubscriptions(subs), ChecksLate: mon.Lateness})
		if err != nil {
			return nil, nil, err
		}
		muting = site.Alerting()
		var handler http.Handler = site
		if cl != nil {
			handler = withClusterEndpoint(site, cl, cfg.Server.PathPrefix)
		}
		return site, web.BodyDeadline(handler, cfg.Server.RequestBodyTimeout.Duration()), nil
	}
	site, handler, err := buildSite(ctx, cfg)
	if err != nil {
		return err
	}
	rl := newReloader(&reloader{log: log, level: level, version: o.Version, build: buildSite, mon: mon, tuning: tuning,
		alerts: alerts, subs: subs, met: met, cfg: cfg, site: site})
	rl.handler.set(handler)

	var unused unusedConns
	srv := &http.Server{
		ConnState:         unused.track,
		Handler:           &rl.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	srv.RegisterOnShutdown(rl.closeSessions) // MCP event streams never end on their own
	srv.RegisterOnShutdown(unused.close)     // after the listener is closed: no new ones come

	wg.Go(func() { alerts.run(runCtx) })
	if subs != nil {
		wg.Go(func() { subs.Run(runCtx) })
	}
	if cl != nil {
		wg.Go(func() { cl.Run(runCtx) })
	}
	wg.Go(func() { rl.run(runCtx, o.Reload, watchEvery) }) // and the web server's refresh
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })

	fmt.Fprintf(out, "Vigil %s is running: open %s\n", o.Version, openURL(ln.Addr(), cfg.Server.PathPrefix))
	log.Info("vigil started", "version", o.Version, "listen", ln.Addr().String(),
		"max_connections", maxConns, "services", len(cfg.Probe.Services))
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}

	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = fmt.Errorf("serve http: %w", err)
	}
	log.Info("vigil stopping")
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("http shutdown", "error", serr)
	}
	cancel() // no request is in flight: stop probing, publish the last changes, write them
	wg.Wait()
	log.Info("vigil stopped")
	return err
}

// OpenStore opens the database that [storage] names and applies its
// migrations.
func OpenStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	sc := cfg.Storage
	st, err := store.Open(ctx, store.Config{
		Driver: sc.Driver,
		Path:   sc.Path,
		URL:    sc.URL,
		Retention: store.Retention{
			Minutes:   sc.RetentionMinuteSamples.Duration(),
			Hours:     sc.RetentionHourSamples.Duration(),
			Changes:   sc.RetentionChanges.Duration(),
			Incidents: sc.RetentionIncidents.Duration(),
			Outbox:    sc.RetentionOutbox.Duration(),
		},
	})
	if err != nil {
		where := sc.Path
		if sc.Driver == store.Postgres {
			where = "the database at storage.url"
		}
		return nil, fmt.Errorf("open %s store (%s): %w", sc.Driver, where, err)
	}
	return st, nil
}

// openURL is the address of the page to print for a person, under
// server.path_prefix: a wildcard listener is opened through localhost.
func openURL(addr net.Addr, prefix string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + prefix + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + prefix + "/"
}

func needsICMP(cfg *config.Config) bool {
	for _, s := range cfg.Probe.Services {
		for _, n := range s.Nodes {
			for _, t := range n.Targets {
				if t.Kind == config.KindICMP {
					return true
				}
			}
		}
	}
	return false
}

// LevelTrace is Vigil's "trace" log level, below debug.
const LevelTrace = slog.LevelDebug - 4

// levelOff is above every level a line is logged at: "off".
const levelOff = slog.Level(1 << 20)

// NewLogger returns a text logger at one of Vigil's log levels (off, error,
// warn, info, debug, trace), and the level, which a config reload sets. An
// unknown level means error, Vigil's default.
func NewLogger(w io.Writer, level string) (*slog.Logger, *slog.LevelVar) {
	v := &slog.LevelVar{}
	v.Set(logLevel(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: v})), v
}

// logLevel is the slog level of one of Vigil's log levels.
func logLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "off":
		return levelOff
	case "trace":
		return LevelTrace
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
