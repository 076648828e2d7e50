package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
)

// notifyTestTimeout bounds the test of one channel target.
const notifyTestTimeout = 30 * time.Second

// notifyTest sends a test message directly (not through the outbox) through
// every configured channel, or the ones named, and prints per channel
// "<channel>: delivered" or "<channel>: failed: <reason>". It fails when a
// channel failed or a named channel is not configured.
func notifyTest(ctx context.Context, cfg *config.Config, names []string, stdout, stderr io.Writer) error {
	if cfg.Notify == nil {
		fmt.Fprintf(stderr, "vigil: %s has no [notify] section: no channel to test\n", cfg.File)
		return errReported
	}
	channels, err := notify.Build(cfg.Notify.Channels, notify.Options{Version: version})
	failed := false
	if err != nil {
		// Errors name the channel and never hold a URL or secret.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "vigil: "+line)
		}
		failed = true
	}
	selected := channels
	if len(names) > 0 {
		selected = nil
		for _, name := range names {
			i := slices.IndexFunc(channels, func(c notify.Channel) bool { return c.Name == name })
			if i < 0 {
				fmt.Fprintf(stderr, "vigil: unknown channel %q (configured: %s)\n", name, channelNames(channels))
				failed = true
				continue
			}
			selected = append(selected, channels[i])
		}
	}
	m := notify.Message{
		Kind:      notify.Startup,
		Status:    status.Healthy,
		Time:      notify.FormatTime(time.Now(), cfg.Branding.Location),
		PageTitle: cfg.Branding.PageTitle,
		PageURL:   cfg.Branding.PageURL,
	}
	// Incident tools take no startup message: they get the recovery of a
	// test outage instead, which reaches them and checks the key but
	// opens nothing.
	quiet := m
	quiet.Kind, quiet.Outage = notify.Changed, "notify-test"
	for _, ch := range selected {
		msg := m
		if ch.QuietStartup {
			msg = quiet
		}
		var reasons []string
		for i, t := range ch.Targets {
			tctx, cancel := context.WithTimeout(ctx, notifyTestTimeout)
			err := t.Notifier.Notify(tctx, msg)
			cancel()
			if err == nil {
				continue
			}
			if len(ch.Targets) > 1 {
				// Keys (phone numbers, user keys) stay out of the output.
				reasons = append(reasons, fmt.Sprintf("target %d of %d: %v", i+1, len(ch.Targets), err))
			} else {
				reasons = append(reasons, err.Error())
			}
		}
		if len(reasons) == 0 {
			fmt.Fprintf(stdout, "%s: delivered\n", ch.Name)
			continue
		}
		failed = true
		fmt.Fprintf(stdout, "%s: failed: %s\n", ch.Name, strings.Join(reasons, "; "))
	}
	if failed {
		return errReported
	}
	return nil
}

func channelNames(channels []notify.Channel) string {
	if len(channels) == 0 {
		return "none"
	}
	names := make([]string, len(channels))
	for i, c := range channels {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
