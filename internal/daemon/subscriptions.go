package daemon

import (
	"log/slog"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/subscribe"
	"github.com/vigil-go/vigil/internal/web"
)

// newSubscriptions builds the visitors' subscriptions when [subscriptions]
// is enabled, and returns nil otherwise. Their messages go through the
// shared outbox under their own channels; in a cluster (cl not nil) every
// member serves the form, and only the leader fans events out and
// delivers.
func newSubscriptions(cfg *config.Config, st *store.Store, log *slog.Logger, version string, feed *statusFeed) *subscribe.Service {
	if !cfg.Subscriptions.Enabled {
		return nil
	}
	d := outbox.Options{Store: st}
	if cfg.Notify != nil {
		d.MaxAge = cfg.Notify.OutboxMaxAge.Duration()
	}
	o := subscribe.Options{Config: cfg, Store: st, Logger: log, Mail: notify.Options{Version: version}, Delivery: d}
	o.Delivery.Active, o.Active = feed.acting, feed.acting
	return subscribe.New(o)
}

// webSubscriptions is subs for the web server: a nil service must be a
// nil interface, which turns the routes off.
func webSubscriptions(subs *subscribe.Service) web.Subscriptions {
	if subs == nil {
		return nil
	}
	return subs
}
