package daemon

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/alerting"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/heartbeat"
	"github.com/vigil-go/vigil/internal/metrics"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/web"
)

// alerts is the alerting of a running vigil: the engine that decides what
// to send, and the outbox worker that sends it.
type alerts struct {
	engine    *alerting.Engine
	worker    *outbox.Worker
	heartbeat *heartbeat.Options // nil without [notify] heartbeat_url
}

// newAlerts builds the channels of [notify], the outbox worker and the
// engine. Without [notify] there is no alerting at all, and it returns nil.
// A channel that cannot be built is logged and left out; the others work.
//
// In a cluster every member queues into the shared outbox but only the
// leader delivers. With met, deliveries are counted in metrics.
func newAlerts(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger, version string, feed *statusFeed, met *metrics.Metrics) (*alerts, error) {
	n := cfg.Notify
	if n == nil {
		return nil, nil
	}
	channels := buildChannels(n, version, log)
	wo := outbox.Options{
		Store:    st,
		Channels: channels,
		Logger:   log,
		MaxAge:   n.OutboxMaxAge.Duration(),
	}
	wo.Active = feed.acting
	names := channelNames(channels)
	if met != nil {
		met.Channels(names, outboxResults())
		wo.Observe = func(channel string, r outbox.Result) { met.Notified(channel, string(r)) }
		wo.Pending = met.Pending
	}
	worker := outbox.New(wo)
	set := alertSettings(cfg, channels)
	engine, err := alerting.New(ctx, alerting.Options{
		Policy:        set.Policy,
		Channels:      set.Channels,
		Page:          set.Page,
		Store:         st,
		Outbox:        worker,
		Logger:        log,
		SettleTimeout: settleTimeout(cfg.Metrics),
		Routes:        set.Routes,
		NotifyOn:      set.NotifyOn,
	})
	if err != nil {
		return nil, err
	}
	log.Info("alerting ready", "channels", names, "outbox_max_age", n.OutboxMaxAge.Duration())
	a := &alerts{engine: engine, worker: worker}
	// The feed's changes are, in a cluster, the decided ones, which only
	// the leader hands: a member that becomes leader first reloads the
	// alert state its predecessor saved.
	feed.OnLeading(engine.Reload)
	feed.OnChange(engine.Published)
	if n.HeartbeatURL != "" {
		a.heartbeat = &heartbeat.Options{URL: n.HeartbeatURL, Every: n.HeartbeatInterval.Duration(), Logger: log,
			Ready: func(ctx context.Context) error {
				if worker.Holding() {
					return errors.New("notifications wait in memory for the store")
				}
				return st.Ping(ctx)
			}}
	}
	return a, nil
}

// byNode maps each node ("service:node") whose list key is set to it: key
// returns notify_channels or notify_on, nil when the node leaves it out.
func byNode(cfg *config.Config, key func(*config.Node) []string) map[string][]string {
	out := map[string][]string{}
	for _, s := range cfg.Probe.Services {
		for i := range s.Nodes {
			if v := key(&s.Nodes[i]); v != nil {
				out[s.ID+":"+s.Nodes[i].ID] = v
			}
		}
	}
	return out
}

// settleTimeout is how long the engine waits, after a start, for every
// replica to have been checked once: two rounds of the slowest scheduler,
// plus a minute for timeouts and retries.
func settleTimeout(m config.Metrics) time.Duration {
	return 2*max(m.PollInterval.Duration(), m.ScriptInterval.Duration()) + time.Minute
}

// control is what the manager API uses to mute reminders; nil without
// [notify] (the web server then keeps the deadline itself, as Vigil does).
func (a *alerts) control() web.Alerting {
	if a == nil {
		return nil
	}
	return a.engine
}

// run decides and delivers until ctx ends.
func (a *alerts) run(ctx context.Context) {
	if a == nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.worker.Run(ctx) })
	wg.Go(func() { a.engine.Run(ctx) })
	if a.heartbeat != nil {
		wg.Go(func() { heartbeat.Run(ctx, *a.heartbeat) })
	}
	wg.Wait()
}

// outboxResults names the outbox's results, as the metrics label them.
func outboxResults() []string {
	out := make([]string, len(outbox.Results))
	for i, r := range outbox.Results {
		out[i] = string(r)
	}
	return out
}
