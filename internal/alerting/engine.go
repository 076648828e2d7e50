// Package alerting runs Vigil's alert policy on the monitor's snapshots: it
// feeds each snapshot to alertpolicy.Policy.Decide, keeps the decision's state in
// the store (so that a restart neither repeats an announced outage nor
// forgets one), mutes what maintenance windows cover, and writes every
// resulting message to the outbox, which delivers it.
//
// Deciding (package alert) and delivering (package outbox) stay apart: this
// package only connects them.
//
// Decisions are made from memory, never held up by the store: when it is
// unavailable (refusing, hanging, full), every call to it ends at
// StoreTimeout, the outbox holds the alerts in memory and delivers them, and
// the decision's state is kept in memory and saved once the store answers.
// Each transition is decided on as it happens, so an outage that begins and
// ends while the store is down is announced, then its recovery.
//
// Nodes may be routed to some channels only (notify_channels). Channels
// that hear about the same nodes form an audience, and each audience is
// decided on apart, on the snapshot cut down to its nodes, with its own
// stored state: a channel is told when its nodes go down and come back, and
// reminded while they stay down, as if they were the whole page. Without
// routes there is one audience, every channel and the whole page, as in
// Vigil.
package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// Scope is the store's reminder-state scope of the page-wide status: the
// audience of every node.
const Scope = ""

// Store is the part of *store.Store the engine uses.
type Store interface {
	Reminder(ctx context.Context, scope string) (store.ReminderState, bool, error)
	PutReminder(ctx context.Context, scope string, st store.ReminderState) error
	Maintenance(ctx context.Context, since, until time.Time) ([]store.Window, error)
}

// Outbox receives the messages to deliver; *outbox.Worker is one.
type Outbox interface {
	Enqueue(ctx context.Context, items []outbox.Item) (int, error)
}

// DefaultSettleTimeout is how long after the start a snapshot in which some
// replicas were never checked is decided on anyway.
const DefaultSettleTimeout = 5 * time.Minute

// Defaults of Options.StoreTimeout and Options.StoreRetry.
const (
	DefaultStoreTimeout = 3 * time.Second
	DefaultStoreRetry   = 5 * time.Second
)

// Options configures an Engine.
type Options struct {
	Policy   alertpolicy.Policy
	Channels []notify.Channel
	Page     alertpolicy.Page
	Store    Store
	Outbox   Outbox
	Logger   *slog.Logger
	// StoreTimeout bounds each store call; after a failed one the engine
	// leaves the store alone for StoreRetry, deciding from what it holds.
	StoreTimeout time.Duration
	StoreRetry   time.Duration
	Now          func() time.Time // time.Now when nil
	// SettleTimeout bounds the wait for a first complete picture. Until
	// every replica has been checked once, a snapshot shows unchecked
	// replicas as healthy: deciding on it would announce a recovery (and
	// then the outage again) after each restart during an outage.
	SettleTimeout time.Duration
	// Routes maps a node ("service:node") to the names of the channels
	// that hear about it (notify_channels); a node without a route is
	// heard by every channel, a route to no channel mutes the node.
	Routes map[string][]string
	// NotifyOn maps a node ("service:node") to the events its channels
	// hear about (config.EventDead, EventRecovered, EventSick); a node
	// without an entry notifies its outages and recoveries, as in Vigil.
	NotifyOn map[string][]string
}

// audience is the channels that hear about the same nodes, and the state of
// the decision about those nodes.
type audience struct {
	scope    string // the store's reminder-state scope: Scope for every node
	channels []notify.Channel
	hears    func(service, node string) bool // nil: every node
	state    alertpolicy.State               // the state after the last decision
	saved    alertpolicy.State               // the state last written to the store
	// lastMuted identifies the last alert maintenance muted, so that it is
	// logged once rather than at every snapshot.
	lastMuted string
}

// audiences groups channels by the nodes they hear about, in channel order.
func audiences(channels []notify.Channel, routes map[string][]string) []*audience {
	if len(routes) == 0 {
		return []*audience{{scope: Scope, channels: channels}}
	}
	var out []*audience
	bySignature := map[string]*audience{}
	for _, ch := range channels {
		// The routed nodes this channel hears about: with the unrouted
		// ones, which every channel hears, they are its nodes.
		var heard []string
		for node, names := range routes {
			if slices.Contains(names, ch.Name) {
				heard = append(heard, node)
			}
		}
		slices.Sort(heard)
		sig := strings.Join(heard, "\x00")
		if a := bySignature[sig]; a != nil {
			a.channels = append(a.channels, ch)
			continue
		}
		a := &audience{channels: []notify.Channel{ch}}
		if len(heard) < len(routes) {
			a.hears = func(service, node string) bool {
				names, routed := routes[service+":"+node]
				return !routed || slices.Contains(names, ch.Name)
			}
		}
		bySignature[sig] = a
		out = append(out, a)
	}
	for _, a := range out {
		if a.hears != nil {
			names := make([]string, len(a.channels))
			for i, ch := range a.channels {
				names[i] = ch.Name
			}
			a.scope = "channels:" + strings.Join(names, ",")
		}
	}
	return out
}

// maxPending bounds the snapshots waiting to be decided on; see Published.
const maxPending = 256

// Engine decides and queues Vigil's notifications. Its methods are safe for
// concurrent use.
type Engine struct {
	o       Options
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	mu      sync.Mutex
	pending []*status.Snapshot
	wake    chan struct{}

	// decide serialises decisions and state writes (IgnoreReminders).
	decide    sync.Mutex
	audiences []*audience
	settled   bool
	windows   []store.Window // the last maintenance windows read

	ignoreMu    sync.Mutex
	ignoreUntil time.Time

	// storeDownUntil: after a failed store call (under e.decide), the
	// engine does not call the store again before this time.
	storeDownUntil time.Time
	storeFailing   bool // the last store call failed; logged once

	// reload asks the next decision to read the state from the store
	// first: another process (a former cluster leader) may have written it.
	reload atomic.Bool
}

// New loads the stored state and returns an engine; Run starts it.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SettleTimeout <= 0 {
		o.SettleTimeout = DefaultSettleTimeout
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.StoreRetry <= 0 {
		o.StoreRetry = DefaultStoreRetry
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{o: o, log: log, now: o.Now, started: o.Now(), wake: make(chan struct{}, 1),
		audiences: audiences(o.Channels, o.Routes)}
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// load reads the stored states; the caller holds e.decide or has not
// shared e yet.
func (e *Engine) load(ctx context.Context) error {
	for i, a := range e.audiences {
		rs, ok, err := e.o.Store.Reminder(ctx, a.scope)
		if err != nil {
			return fmt.Errorf("alerting: load state: %w", err)
		}
		if !ok {
			continue
		}
		a.state = fromStore(rs)
		a.saved = a.state
		if i == 0 {
			e.ignoreMu.Lock()
			e.ignoreUntil = a.state.IgnoreRemindersUntil
			e.ignoreMu.Unlock()
		}
		if a.state.Status == status.Dead {
			e.log.Info("alerting resumes an announced outage", "scope", a.scope, "since", a.state.LastNotified, "dead", a.state.Dead)
		}
	}
	return nil
}

// Reload makes the next decision start from the stored state rather than
// from this engine's memory. A member that becomes the cluster's leader
// calls it: the former leader kept deciding and saving meanwhile.
func (e *Engine) Reload() { e.reload.Store(true) }

// Published hands a new snapshot to the engine and returns at once: it is
// the monitor's hook. Snapshots that do not differ in what matters (dead or
// not, and which replicas are dead) replace each other while they wait, so
// that a slow database costs memory for transitions only, and none is lost.
func (e *Engine) Published(_, cur *status.Snapshot) {
	e.mu.Lock()
	n := len(e.pending)
	if (n > 0 && sameAlertView(e.pending[n-1], cur)) || n >= maxPending {
		e.pending[n-1] = cur
	} else {
		e.pending = append(e.pending, cur)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func sameAlertView(a, b *status.Snapshot) bool {
	return (a.Health == status.Dead) == (b.Health == status.Dead) && slices.Equal(a.Dead, b.Dead)
}

// Run queues the startup notification, then decides on each snapshot until
// ctx ends.
func (e *Engine) Run(ctx context.Context) {
	e.startup(ctx)
	retry := time.NewTicker(e.o.StoreRetry)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			e.decide.Lock()
			e.saveAll(context.WithoutCancel(ctx)) // what the store missed, if it answers now
			e.decide.Unlock()
			return
		case <-retry.C:
			e.decide.Lock()
			e.saveAll(ctx)
			e.decide.Unlock()
			continue
		case <-e.wake:
		}
		e.mu.Lock()
		batch := e.pending
		e.pending = nil
		e.mu.Unlock()
		for _, s := range batch {
			if ctx.Err() != nil {
				return
			}
			e.Process(ctx, s)
		}
	}
}

// startup queues the startup notification, once per start.
func (e *Engine) startup(ctx context.Context) {
	e.decide.Lock() // Apply may swap the policy and channels
	defer e.decide.Unlock()
	a, ok := e.o.Policy.Startup(e.started)
	if !ok {
		return
	}
	key := fmt.Sprintf("startup|%d", e.started.UnixNano())
	e.queue(ctx, a, key, e.o.Channels)
}

// Process decides on one snapshot: it is what Run does with each one, and
// lets tests drive the engine with a synthetic clock.
func (e *Engine) Process(ctx context.Context, snap *status.Snapshot) {
	now := e.now()
	e.decide.Lock()
	defer e.decide.Unlock()
	if e.reload.Load() {
		lctx, cancel := context.WithTimeout(ctx, e.o.StoreTimeout)
		err := e.load(lctx)
		cancel()
		if err != nil {
			e.log.Error("alerting: cannot reload the alert state; will retry", "error", err)
			return
		}
		e.reload.Store(false)
	}
	if !e.settled {
		switch {
		case snap.Refreshed.IsZero():
			return
		case snap.AllChecked():
			e.settled = true
		case now.Sub(e.started) >= e.o.SettleTimeout:
			e.log.Info("alerting starts before every replica was checked", "waited", now.Sub(e.started))
			e.settled = true
		default:
			return
		}
	}

	view, muted := e.withoutMaintenance(ctx, snap, now)
	for _, a := range e.audiences {
		e.decideFor(ctx, a, snap, view, muted, now)
	}
}

// decideFor decides for a on view (snap with maintenance taken out), each
// cut down to the nodes a hears about.
func (e *Engine) decideFor(ctx context.Context, a *audience, snap, view *status.Snapshot, muted []string, now time.Time) {
	prev := a.state
	next, alerts := e.o.Policy.Decide(prev, e.events(only(view, a.hears)), now)
	alerts = e.withoutUnwanted(prev, alerts)
	if len(alerts) == 0 && len(muted) > 0 {
		// Say once per distinct alert what maintenance kept from being
		// sent; it would be decided again at every snapshot.
		if _, raw := e.o.Policy.Decide(prev, only(snap, a.hears), now); len(raw) > 0 {
			if k := fmt.Sprint(raw[0].Kind, raw[0].Status, raw[0].Dead); k != a.lastMuted {
				a.lastMuted = k
				e.log.Info("alert muted by maintenance", "kind", raw[0].Kind, "status", raw[0].Status,
					"dead", raw[0].Dead, "maintenance", muted)
			}
		}
	}
	for _, al := range alerts {
		key := fmt.Sprintf("%s|%s|%s|%d", al.Kind, prev.Status, al.Status, prev.LastNotified.UnixMilli())
		if a.scope != Scope {
			key += "|" + a.scope
		}
		if !e.queue(ctx, al, key, a.channels) {
			// Not written: keep the previous state, so that the next
			// snapshot decides (and queues) the same alert again.
			return
		}
	}
	a.state = next
	e.save(ctx, a)
}

// save writes a's state unless the store has it already or is known to be
// unavailable; what is not written is written by a later call. The caller
// holds e.decide.
func (e *Engine) save(ctx context.Context, a *audience) {
	if sameState(a.state, a.saved) || !e.storeUsable() {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, e.o.StoreTimeout)
	err := e.o.Store.PutReminder(sctx, a.scope, toStore(a.state))
	cancel()
	if e.storeAnswered(ctx, err, "cannot save the alert state") {
		a.saved = a.state
	}
}

// saveAll saves every audience's unsaved state; the caller holds e.decide
// or owns e.
func (e *Engine) saveAll(ctx context.Context) {
	for _, a := range e.audiences {
		e.save(ctx, a)
	}
}

// storeUsable tells whether the store may be called: not within StoreRetry
// of a failed call.
func (e *Engine) storeUsable() bool { return !e.now().Before(e.storeDownUntil) }

// storeAnswered notes the outcome of a store call (err) and reports
// whether it succeeded. The first failure is logged at warn with what,
// and so is the first success after failures.
func (e *Engine) storeAnswered(ctx context.Context, err error, what string) bool {
	if err == nil {
		if e.storeFailing {
			e.storeFailing = false
			e.log.Warn("alerting: the store answers again; the alert state is saved")
		}
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	e.storeDownUntil = e.now().Add(e.o.StoreRetry)
	if !e.storeFailing {
		e.storeFailing = true
		e.log.Warn("alerting: "+what+"; deciding from memory and retrying", "error", err, "retry_in", e.o.StoreRetry)
	}
	return false
}

// events returns snap as the nodes' notify_on make alerts see it: the dead
// replicas of nodes that do not notify "dead" count as healthy, and the
// sick replicas of nodes that notify "sick" are listed with the dead ones.
// snap itself when no node sets notify_on.
func (e *Engine) events(snap *status.Snapshot) *status.Snapshot {
	if len(e.o.NotifyOn) == 0 {
		return snap
	}
	services := make([]status.Service, len(snap.Services))
	var listed []string
	for si, svc := range snap.Services {
		services[si] = svc
		services[si].Nodes = slices.Clone(svc.Nodes)
		for ni, n := range svc.Nodes {
			on, set := e.o.NotifyOn[svc.ID+":"+n.ID]
			if !set {
				for _, r := range n.Replicas {
					if r.Health == status.Dead {
						listed = append(listed, status.DeadID(svc.ID, n.ID, r.ID))
					}
				}
				continue
			}
			reps := slices.Clone(n.Replicas)
			for ri, r := range reps {
				switch {
				case r.Health == status.Dead && !slices.Contains(on, config.EventDead):
					reps[ri].Health = status.Healthy
				case r.Health == status.Dead,
					r.Health == status.Sick && slices.Contains(on, config.EventSick):
					listed = append(listed, status.DeadID(svc.ID, n.ID, r.ID))
				}
			}
			services[si].Nodes[ni].Replicas = reps
		}
	}
	health, _ := status.Rollup(services)
	return &status.Snapshot{Version: snap.Version, Health: health, Refreshed: snap.Refreshed, Services: services, Dead: listed}
}

// withoutUnwanted takes the replicas of nodes that do not notify
// "recovered" out of the recoveries, and drops a recovery left with none.
func (e *Engine) withoutUnwanted(prev alertpolicy.State, alerts []alertpolicy.Alert) []alertpolicy.Alert {
	if len(e.o.NotifyOn) == 0 {
		return alerts
	}
	out := alerts[:0:0]
	for _, a := range alerts {
		if len(a.Recovered) > 0 {
			a.Recovered = slices.DeleteFunc(slices.Clone(a.Recovered), func(id string) bool {
				on, set := e.o.NotifyOn[nodeOf(id)]
				return set && !slices.Contains(on, config.EventRecovered)
			})
			recovery := alertpolicy.Level(a.Status, a.Dead) < alertpolicy.Level(prev.Status, prev.Dead)
			if a.Kind == notify.Changed && recovery && len(a.Recovered) == 0 {
				e.log.Info("recovery not sent: its nodes do not notify \"recovered\"", "status", a.Status)
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// nodeOf returns the "service:node" of a "service:node:replica" id.
func nodeOf(id string) string {
	service, rest, _ := strings.Cut(id, ":")
	node, _, _ := strings.Cut(rest, ":")
	return service + ":" + node
}

// only returns snap cut down to the nodes hears accepts, rolled up again;
// snap itself when hears is nil.
func only(snap *status.Snapshot, hears func(service, node string) bool) *status.Snapshot {
	if hears == nil {
		return snap
	}
	var services []status.Service
	for _, svc := range snap.Services {
		kept := svc
		kept.Nodes = nil
		for _, n := range svc.Nodes {
			if hears(svc.ID, n.ID) {
				kept.Nodes = append(kept.Nodes, n)
			}
		}
		if len(kept.Nodes) > 0 {
			services = append(services, kept)
		}
	}
	health, dead := status.Rollup(services)
	return &status.Snapshot{Version: snap.Version, Health: health, Refreshed: snap.Refreshed, Services: services, Dead: dead}
}

// queue writes a's deliveries to channels to the outbox with ids derived
// from key, so that deciding the same alert again (after a crash before the
// state was saved) queues nothing new. It reports whether the write
// succeeded.
func (e *Engine) queue(ctx context.Context, a alertpolicy.Alert, key string, channels []notify.Channel) bool {
	deliveries := a.Deliveries(channels, e.o.Page)
	if len(deliveries) == 0 {
		e.log.Info("alert not sent: no channel receives it", "kind", a.Kind, "status", a.Status)
		return true
	}
	items := make([]outbox.Item, len(deliveries))
	for i, d := range deliveries {
		items[i] = outbox.Item{ID: itemID(a.Kind, key, d.Channel, d.Target), Channel: d.Channel, Target: d.Target, Message: d.Message}
	}
	n, err := e.o.Outbox.Enqueue(ctx, items)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("alert not queued; will retry", "kind", a.Kind, "status", a.Status, "error", err)
		}
		return false
	}
	e.log.Info("alert queued", "kind", a.Kind, "status", a.Status, "dead", a.Dead,
		"recovered", a.Recovered, "deliveries", len(items), "new", n)
	return true
}

// itemID is the outbox idempotency key of one delivery.
func itemID(kind notify.Kind, key, channel, target string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + channel + "\x00" + target))
	return string(kind) + "-" + hex.EncodeToString(sum[:16])
}

// withoutMaintenance returns snap without the replicas of the nodes that an
// active maintenance window covers, and those nodes ("service:node").
func (e *Engine) withoutMaintenance(ctx context.Context, snap *status.Snapshot, now time.Time) (*status.Snapshot, []string) {
	ws := e.windows
	if e.storeUsable() {
		sctx, cancel := context.WithTimeout(ctx, e.o.StoreTimeout)
		read, err := e.o.Store.Maintenance(sctx, now, now.Add(time.Millisecond))
		cancel()
		if e.storeAnswered(ctx, err, "cannot read maintenance windows, using the last ones read") {
			ws, e.windows = read, read
		}
	}
	var active []store.Window
	for _, w := range ws {
		if !now.Before(w.Start) && now.Before(w.End) {
			active = append(active, w)
		}
	}
	if len(active) == 0 {
		return snap, nil
	}
	var muted []string
	services := make([]status.Service, len(snap.Services))
	for si, svc := range snap.Services {
		services[si] = svc
		services[si].Nodes = slices.Clone(svc.Nodes)
		for ni, n := range svc.Nodes {
			if slices.ContainsFunc(active, func(w store.Window) bool { return w.Covers(svc.ID, n.ID) }) {
				services[si].Nodes[ni].Replicas = nil
				muted = append(muted, svc.ID+":"+n.ID)
			}
		}
	}
	if len(muted) == 0 {
		return snap, nil
	}
	health, dead := status.Rollup(services)
	return &status.Snapshot{Version: snap.Version, Health: health, Refreshed: snap.Refreshed, Services: services, Dead: dead}, muted
}

// IgnoreReminders mutes reminders until the given time (the manager API's
// "ignore reminders"); the zero time unmutes them. It is stored, so it
// survives a restart.
func (e *Engine) IgnoreReminders(ctx context.Context, until time.Time) error {
	e.decide.Lock()
	defer e.decide.Unlock()
	for _, a := range e.audiences {
		next := a.state
		next.IgnoreRemindersUntil = until
		sctx, cancel := context.WithTimeout(ctx, e.o.StoreTimeout)
		err := e.o.Store.PutReminder(sctx, a.scope, toStore(next))
		cancel()
		if err != nil {
			return fmt.Errorf("ignore reminders: %w", err)
		}
		a.state, a.saved = next, next
	}
	e.ignoreMu.Lock()
	e.ignoreUntil = until
	e.ignoreMu.Unlock()
	return nil
}

// RemindersIgnoredUntil returns when muted reminders resume; zero when they
// are not muted. It never waits for the database.
func (e *Engine) RemindersIgnoredUntil() time.Time {
	e.ignoreMu.Lock()
	defer e.ignoreMu.Unlock()
	return e.ignoreUntil
}

func toStore(s alertpolicy.State) store.ReminderState {
	return store.ReminderState{
		LastNotified: s.LastNotified,
		Backoff:      s.Backoff,
		Escalation:   s.Escalation,
		IgnoreUntil:  s.IgnoreRemindersUntil,
		LastStatus:   s.Status,
		LastDead:     slices.Clone(s.Dead),
		Outage:       s.Outage,
	}
}

func fromStore(r store.ReminderState) alertpolicy.State {
	return alertpolicy.State{
		Status:               r.LastStatus,
		Dead:                 slices.Clone(r.LastDead),
		LastNotified:         r.LastNotified,
		Backoff:              r.Backoff,
		Escalation:           r.Escalation,
		IgnoreRemindersUntil: r.IgnoreUntil,
		Outage:               r.Outage,
	}
}

func sameState(a, b alertpolicy.State) bool {
	return a.Status == b.Status && slices.Equal(a.Dead, b.Dead) && a.LastNotified.Equal(b.LastNotified) &&
		a.Backoff == b.Backoff && a.Escalation == b.Escalation && a.IgnoreRemindersUntil.Equal(b.IgnoreRemindersUntil) &&
		a.Outage == b.Outage
}
