// Package heartbeat tells a dead man's switch elsewhere (Healthchecks.io,
// Uptime Kuma's push monitors, Cronitor…) that this vigil is alive and can
// alert: it sends a GET to [notify] heartbeat_url every heartbeat_interval,
// and stops sending while vigil could not deliver an alert durably, so that
// the switch notices when the monitor itself is gone or broken.
package heartbeat

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Options configures Run.
type Options struct {
	URL    string
	Every  time.Duration
	Client *http.Client // http.DefaultClient when nil
	// Ready says whether vigil can alert now: the store answers and
	// nothing waits in memory for it. A non-nil error skips the beat.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
}

// Run beats at once, then every o.Every, until ctx ends.
func Run(ctx context.Context, o Options) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	skipping := false
	for {
		if err := beat(ctx, o, client); err != nil {
			if !skipping && ctx.Err() == nil {
				log.Warn("heartbeat: not sent", "error", err)
			}
			skipping = true
		} else if skipping {
			log.Warn("heartbeat: sent again")
			skipping = false
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// beat sends one heartbeat if vigil can alert; the request may take at most
// one interval.
func beat(ctx context.Context, o Options, client *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, o.Every)
	defer cancel()
	if o.Ready != nil {
		if err := o.Ready(ctx); err != nil {
			return fmt.Errorf("vigil cannot alert durably: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "vigil heartbeat")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("the heartbeat URL answered %s", resp.Status)
	}
	return nil
}
