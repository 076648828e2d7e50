package daemon

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/alerting"
	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/metrics"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
)

// buildChannels builds the channels of [notify]. A channel that cannot be
// built is logged and left out; the others work.
func buildChannels(n *config.Notify, version string, log *slog.Logger) []notify.Channel {
	channels, err := notify.Build(n.Channels, notify.Options{Version: version})
	if err != nil {
		log.Error("notify: some channels cannot be used", "error", err)
	}
	for _, ch := range channels {
		for _, w := range ch.Warnings {
			log.Warn("notify."+ch.Name+": "+w, "channel", ch.Name)
		}
	}
	return channels
}

func channelNames(channels []notify.Channel) []string {
	names := make([]string, len(channels))
	for i, ch := range channels {
		names[i] = ch.Name
	}
	return names
}

// alertSettings is what the alerting engine takes from cfg, at start and
// at each reload.
func alertSettings(cfg *config.Config, channels []notify.Channel) alerting.Settings {
	return alerting.Settings{
		Policy:   alertpolicy.New(cfg.Notify),
		Channels: channels,
		Page:     alertpolicy.Page{Title: cfg.Branding.PageTitle, URL: cfg.Branding.PageURL, Location: cfg.Branding.Location},
		Routes:   byNode(cfg, func(n *config.Node) []string { return n.NotifyChannels }),
		NotifyOn: byNode(cfg, func(n *config.Node) []string { return n.NotifyOn }),
	}
}

// apply gives the alerting the channels, reminders and routes of cfg: the
// outbox keeps the pending messages of the channels that remain, and the
// engine the state of the outages it announced. Nothing without [notify]:
// adding or removing the whole section needs a restart (config.Diff).
func (a *alerts) apply(ctx context.Context, cfg *config.Config, version string, log *slog.Logger, met *metrics.Metrics) {
	if a == nil || cfg.Notify == nil {
		return
	}
	channels := buildChannels(cfg.Notify, version, log)
	if met != nil {
		met.Channels(channelNames(channels), outboxResults())
	}
	a.worker.SetChannels(channels)
	a.engine.Apply(ctx, alertSettings(cfg, channels))
}

// clusterTuning is the per-node settings the cluster's decision reads
// (freshness of observations, thresholds), swapped whole by a reload.
type clusterTuning struct {
	fresher atomic.Pointer[func(service, node string, mode status.Mode) time.Duration]
	holder  atomic.Pointer[func(service, node string) (int, int, time.Duration)]
}

func newClusterTuning(cfg *config.Config) *clusterTuning {
	t := &clusterTuning{}
	t.set(cfg)
	return t
}

func (t *clusterTuning) set(cfg *config.Config) {
	f, h := freshness(cfg), holds(cfg)
	t.fresher.Store(&f)
	t.holder.Store(&h)
}

func (t *clusterTuning) fresh(service, node string, mode status.Mode) time.Duration {
	return (*t.fresher.Load())(service, node, mode)
}

func (t *clusterTuning) hold(service, node string) (int, int, time.Duration) {
	return (*t.holder.Load())(service, node)
}
