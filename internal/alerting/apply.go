package alerting

import (
	"context"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/notify"
)

// Settings is what a config reload changes in a running engine: the
// reminder policy, the channels, the page the messages link to, and the
// nodes' routes and events.
type Settings struct {
	Policy   alertpolicy.Policy
	Channels []notify.Channel
	Page     alertpolicy.Page
	Routes   map[string][]string
	NotifyOn map[string][]string
}

// Apply switches the engine to new settings between two decisions. Each
// audience that remains (the same channels hearing about the same nodes)
// keeps its state, so an announced outage is neither announced again nor
// forgotten, and reminders keep their schedule; a new audience starts from
// its stored state if it has one, else from nothing, and hears about an
// outage at the next decision. Undelivered messages are the outbox's.
func (e *Engine) Apply(ctx context.Context, s Settings) {
	e.decide.Lock()
	defer e.decide.Unlock()
	old := map[string]*audience{}
	for _, a := range e.audiences {
		old[a.scope] = a
	}
	next := audiences(s.Channels, s.Routes)
	muted := e.RemindersIgnoredUntil()
	for _, a := range next {
		if o := old[a.scope]; o != nil {
			a.state, a.saved, a.lastMuted = o.state, o.saved, o.lastMuted
			continue
		}
		e.adopt(ctx, a)
		// Reminders muted through the manager API stay muted for every
		// audience, this new one too (saved at its next decision).
		a.state.IgnoreRemindersUntil = muted
	}
	e.audiences = next
	e.o.Policy, e.o.Channels, e.o.Page, e.o.Routes, e.o.NotifyOn = s.Policy, s.Channels, s.Page, s.Routes, s.NotifyOn
	e.log.Info("alerting: settings reloaded", "channels", len(s.Channels), "audiences", len(next))
}

// adopt gives a new audience its stored state, if the store has one and
// answers.
func (e *Engine) adopt(ctx context.Context, a *audience) {
	if !e.storeUsable() {
		e.log.Warn("alerting: the state of a new set of channels cannot be read now; it starts afresh", "scope", a.scope)
		return
	}
	lctx, cancel := context.WithTimeout(ctx, e.o.StoreTimeout)
	rs, ok, err := e.o.Store.Reminder(lctx, a.scope)
	cancel()
	if !e.storeAnswered(ctx, err, "cannot read the state of a new set of channels") || !ok {
		return
	}
	a.state = fromStore(rs)
	a.saved = a.state
}
