package alerting

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/testkit"
)

// A reload during an outage neither announces it again nor forgets it: the
// reminders follow the new interval from the last one sent, and the
// recovery still comes.
func TestApplyKeepsTheOutage(t *testing.T) {
	policy := func(every config.Seconds) alertpolicy.Policy {
		return alertpolicy.New(&config.Notify{ReminderInterval: &every, ReminderBackoffFunction: "none"})
	}
	chs := webhookChannels(t)
	h := newHarness(t, dbPath(t), testkit.NewClock(t0), policy(60), chs, nil)
	h.run(90*time.Second, "web:core:a")
	if got, want := h.out.kinds(), []notify.Kind{notify.Changed, notify.Reminder}; !slices.Equal(got, want) {
		t.Fatalf("before the reload: %v, want %v", got, want)
	}

	h.e.Apply(ctx, Settings{Policy: policy(600), Channels: webhookChannels(t), Page: alertpolicy.Page{Title: "Renamed"}})
	h.run(5*time.Minute, "web:core:a")
	if got, want := h.out.kinds(), []notify.Kind{notify.Changed, notify.Reminder}; !slices.Equal(got, want) {
		t.Errorf("5 min after the reload to a 10 min reminder: %v, want nothing new", got)
	}
	h.run(5*time.Minute, "web:core:a")
	h.run(20 * time.Second)
	got := h.out.kinds()
	if want := []notify.Kind{notify.Changed, notify.Reminder, notify.Reminder, notify.Changed}; !slices.Equal(got, want) {
		t.Fatalf("after 10 min and a recovery: %v, want a reminder at 10 min, then the recovery", got)
	}
	last := h.out.all()
	if title := last[len(last)-1].items[0].Message.PageTitle; title != "Renamed" {
		t.Errorf("recovery's page title = %q, want the reloaded one", title)
	}
}

// Reminders muted through the manager API stay muted for the audiences a
// reload creates (here by routing another node elsewhere, which gives the webhook
// an audience of its own), not only for those it keeps.
func TestApplyKeepsRemindersMuted(t *testing.T) {
	every := config.Seconds(60)
	policy := alertpolicy.New(&config.Notify{ReminderInterval: &every, ReminderBackoffFunction: "none"})
	h := newHarness(t, dbPath(t), testkit.NewClock(t0), policy, webhookChannels(t), nil)
	h.run(30*time.Second, "web:core:a")
	until := h.clock.Now().Add(time.Hour)
	if err := h.e.IgnoreReminders(ctx, until); err != nil {
		t.Fatal(err)
	}
	h.e.Apply(ctx, Settings{Policy: policy, Channels: webhookChannels(t), Routes: map[string][]string{"web:other": {"slack"}}})
	before := len(h.out.kinds())
	h.run(10*time.Minute, "web:core:a")
	for _, k := range h.out.kinds()[before:] {
		if k == notify.Reminder {
			t.Fatalf("a reminder went out while muted until %v: %v", until, h.out.kinds())
		}
	}
	if got := h.e.RemindersIgnoredUntil(); !got.Equal(until) {
		t.Errorf("RemindersIgnoredUntil = %v, want %v", got, until)
	}
}
