package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/vigil-go/vigil/internal/cluster"
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

// startHistory builds the recorder, resumed from the store, registers it on
// the hooks, and re-creates the stored push and local replicas in the
// monitor. It must run before the monitor does.
//
// In a cluster every member records its own samples (each vantage point's
// checks count), but status changes, incidents and replicas are recorded
// from the decided snapshots, which only the leader hands: one writer, and
// no incident opened three times.
func startHistory(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger, h *hooks, mon *monitor.Monitor, cl *cluster.Cluster) (*historyRecorder, error) {
	saved, err := st.LoadReplicas(ctx)
	if err != nil {
		return nil, fmt.Errorf("restore replicas: %w", err)
	}
	rec, err := history.New(ctx, history.Options{
		Store:    st,
		Logger:   log,
		Instance: instanceName(cfg),
		Replicas: saved,
	})
	if err != nil {
		return nil, err
	}
	if cl != nil {
		cl.OnDecided(rec.Published)
	} else {
		h.onPublished = append(h.onPublished, rec.Published)
	}
	h.onObserved = append(h.onObserved, rec.Observed)

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
		// The recorder deletes them from the store: their node is gone.
		log.Warn("stored replica not restored", "reason", err)
	}
	if len(saved) > 0 {
		log.Info("push and local replicas restored", "replicas", n)
	}
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
