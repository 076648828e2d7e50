package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/history"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/store"
)

// historyRecorder records the monitor into the store and restores what a restart
// must not lose.
type historyRecorder struct {
	rec *history.Recorder
}

// restoreReplicas re-creates in the monitor the push and local replicas the
// store kept, before the monitor runs, and returns them for the history.
// A replica whose node a new config removed is skipped (the recorder then
// deletes it from the store).
func restoreReplicas(ctx context.Context, st *store.Store, mon *monitor.Monitor, log *slog.Logger) ([]store.PushReplica, error) {
	saved, err := st.LoadReplicas(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore replicas: %w", err)
	}
	restore := make([]monitor.RestoredReplica, 0, len(saved))
	for _, r := range saved {
		restore = append(restore, monitor.RestoredReplica{
			Service: r.Service, Node: r.Node, Replica: r.Replica, Mode: r.Mode,
			Interval: r.Interval, LastReport: r.LastReport, Load: r.Load,
			Health: r.Health, Reason: r.Reason,
		})
	}
	n, skipped := mon.Restore(restore)
	for _, err := range skipped {
		log.Warn("stored replica not restored", "reason", err)
	}
	if len(saved) > 0 {
		log.Info("push and local replicas restored", "replicas", n)
	}
	return saved, nil
}

// startHistory builds the recorder, resumed from the store and the saved
// replicas, and subscribes it to the feed. It must run before the monitor
// does.
//
// In a cluster every member records its own samples (each vantage point's
// checks count), but status changes, incidents and replicas are recorded
// from the decided snapshots, which only the leader hands: one writer, and
// no incident opened three times.
func startHistory(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger, feed *statusFeed, saved []store.PushReplica) (*historyRecorder, error) {
	rec, err := history.New(ctx, history.Options{
		Store:    st,
		Logger:   log,
		Instance: instanceName(cfg),
		Replicas: saved,
	})
	if err != nil {
		return nil, err
	}
	feed.OnChange(rec.Published)
	feed.OnResult(rec.Observed)
	return &historyRecorder{rec: rec}, nil
}

// run runs the monitor and the recorder until ctx ends. The recorder stops
// only after the monitor has returned, so that the monitor's last results
// are written too.
func (h *historyRecorder) run(ctx context.Context, wg *sync.WaitGroup, mon *monitor.Monitor) {
	recCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() {
		defer stop()
		mon.Run(ctx)
	})
	wg.Go(func() { h.rec.Run(recCtx) })
}

// instanceName names this vigil in the store's running intervals.
func instanceName(cfg *config.Config) string {
	if cfg.Cluster.NodeID != "" {
		return cfg.Cluster.NodeID
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return host
	}
	return "vigil"
}
