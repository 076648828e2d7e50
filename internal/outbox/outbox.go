// Package outbox delivers notifications so that none is lost: each message
// for each target is first written to the store's outbox, then sent by a
// worker that retries it until the target accepts it or it grows too old.
//
// When the store is unavailable (refusing, hanging past StoreTimeout, or
// full), Enqueue keeps the messages in a bounded memory queue instead, the
// worker delivers them from there, and writes them to the store, delivered
// ones as delivered, once it answers again: an alert is late by one store
// timeout at most, and still sent once per target.
//
// The worker runs one goroutine per channel, so a slow or hanging channel
// (an SMTP server that never answers) holds up nothing but itself, and the
// caller of Enqueue waits for the database write only. Messages to one
// target go out in the order they were enqueued; a failing target does not
// hold up the other targets of its channel (see store.Due).
//
// What to send, and when, is decided elsewhere (package alert); this package
// only knows how to get a stored message to its target.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/store"
)

// Store is the part of *store.Store the worker uses.
type Store interface {
	Enqueue(ctx context.Context, entries []store.OutboxEntry) (int, error)
	Due(ctx context.Context, channel string, now time.Time, limit int) ([]store.OutboxEntry, error)
	PendingCount(ctx context.Context, channel string) (int, error)
	MarkDelivered(ctx context.Context, id string, t time.Time) error
	MarkFailed(ctx context.Context, id, errText string, next time.Time) error
	Abandon(ctx context.Context, id, errText string, now time.Time) error
	GiveUp(ctx context.Context, olderThan, now time.Time) ([]store.OutboxEntry, error)
}

// Item is one message for one target, to enqueue.
type Item struct {
	// ID is the idempotency key: enqueueing an ID the outbox already holds
	// (delivered or not) does nothing. Derive it from what the message is
	// about, so that deciding the same alert twice sends it once.
	ID      string
	Channel string // notify.Channel.Name
	Target  string // notify.Target.Key
	Message notify.Message
}

// payload is what an outbox entry stores: the message and the key of its
// target. Its JSON form is stable, so that entries written by one version
// are delivered by the next.
type payload struct {
	Target  string         `json:"target"`
	Message notify.Message `json:"message"`
}

// Defaults of Options.
const (
	DefaultMaxAge         = 24 * time.Hour
	DefaultMinBackoff     = 5 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultAttemptTimeout = 30 * time.Second
	DefaultPollEvery      = 5 * time.Second
	// DefaultStoreTimeout bounds each store call of the worker: past it the
	// store counts as unavailable and messages are held in memory, so an
	// alert waits this long at most for a hanging database.
	DefaultStoreTimeout = 3 * time.Second
)

// Options configures a Worker. Zero durations take their defaults.
type Options struct {
	Store    Store
	Channels []notify.Channel
	Logger   *slog.Logger
	// MaxAge is how long an undelivered message is retried; older ones are
	// given up with an error log (notify.outbox_max_age).
	MaxAge time.Duration
	// MinBackoff is the wait after a first failed attempt; it doubles with
	// each further failure up to MaxBackoff. A longer Retry-After from the
	// server wins.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// AttemptTimeout bounds one delivery attempt, on top of the channel's
	// own timeouts.
	AttemptTimeout time.Duration
	// PollEvery is how often each channel looks for due messages when
	// nothing woke it: it picks up retries scheduled before a restart.
	PollEvery time.Duration
	// StoreTimeout bounds each call to the store; MaxHeld bounds the
	// messages held in memory while the store is unavailable (beyond it the
	// oldest undelivered are given up, with an error log each).
	StoreTimeout time.Duration
	MaxHeld      int
	Now          func() time.Time
	// Active, when set, says whether this worker may deliver now. In a
	// cluster every member queues into the shared outbox but only the
	// leader delivers, so that no message goes out twice.
	Active func() bool

	// Observe, when set, is told the outcome of every delivery attempt and
	// of every message given up, for metrics. Pending, when set, is told
	// how many messages of a channel the outbox holds undelivered, before
	// each attempt and after each pass: due, waiting for a retry, or queued
	// behind a target that does not answer. Neither may block.
	Observe func(channel string, r Result)
	Pending func(channel string, n int)
}

// Result is the outcome of a delivery attempt, or of a message given up.
type Result string

const (
	Delivered Result = "delivered"
	Failed    Result = "failed"   // the attempt failed; the message will be retried
	GivenUp   Result = "given_up" // no retry can help, or it was not delivered within MaxAge
)

// Results lists every Result, for those who count them (metrics).
var Results = []Result{Delivered, Failed, GivenUp}

// Worker delivers the outbox. Its methods are safe for concurrent use.
type Worker struct {
	o    Options
	log  *slog.Logger
	now  func() time.Time
	held *held
	// flushWake asks the held messages to be written now; cap 1.
	flushWake chan struct{}

	// mu guards the channels' drainers, which SetChannels replaces, and
	// what Run started them with.
	mu       sync.Mutex
	drainers map[string]*drainer
	// retired holds the drainers of removed channels, which a channel that
	// comes back must wait for; one per channel name at most.
	retired map[string]*drainer
	running context.Context // Run's; nil before Run and after it stops
	wg      sync.WaitGroup  // Run's goroutines, drainers started later included
}

// New returns a worker for the configured channels; Run starts it.
func New(o Options) *Worker {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MaxAge, DefaultMaxAge)
	def(&o.MinBackoff, DefaultMinBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.AttemptTimeout, DefaultAttemptTimeout)
	def(&o.PollEvery, DefaultPollEvery)
	def(&o.StoreTimeout, DefaultStoreTimeout)
	if o.MaxHeld <= 0 {
		o.MaxHeld = DefaultMaxHeld
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observe == nil {
		o.Observe = func(string, Result) {}
	}
	if o.Pending == nil {
		o.Pending = func(string, int) {}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{o: o, log: log, now: o.Now, drainers: map[string]*drainer{}, retired: map[string]*drainer{},
		held: newHeld(o.MaxHeld), flushWake: make(chan struct{}, 1)}
	for _, ch := range o.Channels {
		w.drainers[ch.Name] = newDrainer(ch, nil)
	}
	return w
}

// Enqueue writes items to the outbox and wakes their channels. It returns
// once the write is committed, with the number of items that were new; it
// never waits for a delivery. When the store is unavailable it holds the
// items in memory instead (see the package comment), and fails only when
// ctx ends.
func (w *Worker) Enqueue(ctx context.Context, items []Item) (int, error) {
	now := w.now()
	entries := make([]store.OutboxEntry, 0, len(items))
	for _, it := range items {
		body, err := json.Marshal(payload{Target: it.Target, Message: it.Message})
		if err != nil {
			return 0, fmt.Errorf("outbox: encode %s: %w", it.ID, err)
		}
		entries = append(entries, store.OutboxEntry{
			ID: it.ID, Channel: it.Channel, Target: it.Target, Payload: body, CreatedAt: now,
		})
	}
	var n int
	var err error
	if w.held.len() == 0 { // while some are held, the store is known unavailable: wait for it no more
		sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
		n, err = w.o.Store.Enqueue(sctx, entries)
		cancel()
	}
	if err != nil || w.held.len() > 0 {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("outbox: %w", ctx.Err())
		}
		n = w.hold(entries, time.Time{}, err)
	}
	for _, it := range items {
		w.wakeChannel(it.Channel)
	}
	return n, nil
}

func (w *Worker) wakeChannel(name string) {
	w.mu.Lock()
	d := w.drainers[name]
	w.mu.Unlock()
	if d != nil {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// hold keeps entries in memory because the store failed with cause (nil
// when it was not tried: some are held already), and returns how many were
// new. delivered is when they were sent, for deliveries the store could not
// record; zero for messages to send.
func (w *Worker) hold(entries []store.OutboxEntry, delivered time.Time, cause error) int {
	first := w.held.len() == 0
	n, dropped := w.held.add(entries, delivered)
	if first && n > 0 {
		w.log.Warn("outbox: the store is unavailable; notifications are delivered from memory, without durability, until it answers again",
			"error", cause, "held", n)
	}
	for _, e := range dropped {
		w.o.Observe(e.Channel, GivenUp)
		w.log.Error("notification given up: too many held in memory while the store is unavailable",
			"channel", e.Channel, "id", e.ID, "created", e.CreatedAt, "max_held", w.o.MaxHeld)
	}
	select {
	case w.flushWake <- struct{}{}:
	default:
	}
	return n
}

// Holding reports whether messages wait in memory for the store: alerts are
// then delivered without durability.
func (w *Worker) Holding() bool { return w.held.len() > 0 }

func (w *Worker) active() bool { return w.o.Active == nil || w.o.Active() }

// Run delivers until ctx ends. A message being sent when ctx ends stays in
// the outbox and is sent again at the next start: delivery is at least
// once, never none.
func (w *Worker) Run(ctx context.Context) {
	w.mu.Lock()
	w.running = ctx
	for _, d := range w.drainers {
		w.start(d)
	}
	w.wg.Go(func() { w.expire(ctx) })
	w.wg.Go(func() { w.writeHeld(ctx) })
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	w.running = nil // SetChannels starts no drainer any more
	w.mu.Unlock()
	w.wg.Wait()
}

// writeHeld writes the held messages to the store whenever some are held,
// retrying every MinBackoff (at least a second) until it answers.
func (w *Worker) writeHeld(ctx context.Context) {
	every := max(w.o.MinBackoff, time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if w.held.len() > 0 {
				// One last try, so that a stop after the store came back
				// loses nothing.
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.o.StoreTimeout)
				w.flushHeld(sctx)
				cancel()
				if n := w.held.len(); n > 0 {
					w.log.Error("outbox: notifications held in memory are lost at this stop: the store is unavailable", "held", n)
				}
			}
			return
		case <-tick.C:
		case <-w.flushWake:
		}
		if w.held.len() > 0 {
			w.flushHeld(ctx)
		}
	}
}

// flushHeld writes what is held to the store: undelivered messages become
// ordinary outbox entries, delivered ones are recorded as delivered. It
// says once everything is written that notifications are durable again.
func (w *Worker) flushHeld(ctx context.Context) {
	claimed := w.held.claim()
	if len(claimed) == 0 {
		return
	}
	var fresh []store.OutboxEntry
	for _, e := range claimed {
		if !e.written {
			fresh = append(fresh, e.OutboxEntry)
		}
	}
	if len(fresh) > 0 {
		sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
		_, err := w.o.Store.Enqueue(sctx, fresh)
		cancel()
		if err != nil {
			w.held.release(claimed, false)
			return
		}
		w.held.release(claimed, true)
	} else {
		w.held.release(claimed, false)
	}
	for _, e := range claimed {
		if e.delivered.IsZero() {
			w.held.remove(e) // the store owns it now: the channel's worker sends it
			w.wakeChannel(e.Channel)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
		err := w.o.Store.MarkDelivered(sctx, e.ID, e.delivered)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return // kept, and retried at the next tick
		}
		w.held.recorded(e)
	}
	if w.held.len() == 0 {
		w.log.Warn("outbox: the store answers again; notifications are durable again", "written", len(claimed))
	}
}

// expire gives up the messages older than MaxAge, with an error log each.
func (w *Worker) expire(ctx context.Context) {
	every := min(max(w.o.MaxAge/4, time.Second), time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if w.active() { // in a cluster, the leader gives up for everyone
			w.giveUpOld(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// giveUpOld gives up the messages older than MaxAge, with an error log each.
func (w *Worker) giveUpOld(ctx context.Context) {
	now := w.now()
	gone, err := w.o.Store.GiveUp(ctx, now.Add(-w.o.MaxAge), now)
	if err != nil && ctx.Err() == nil {
		w.log.Error("outbox: cannot give up old notifications", "error", err)
	}
	gone = append(gone, w.held.expired(now.Add(-w.o.MaxAge))...)
	for _, e := range gone {
		w.o.Observe(e.Channel, GivenUp)
		w.log.Error("notification given up: not delivered in time",
			"channel", e.Channel, "id", e.ID, "created", e.CreatedAt, "attempts", e.Attempts,
			"max_age", w.o.MaxAge, "last_error", e.LastError)
	}
}

// drain delivers one channel's due messages whenever it is woken, a retry
// falls due, or PollEvery passes: first those held in memory, then the
// store's.
func (w *Worker) drain(ctx context.Context, d *drainer) {
	retries := make(map[string]time.Time) // ids this worker scheduled a retry for
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.stop: // replaced by SetChannels, between two passes
			return
		case <-timer.C:
		case <-d.wake:
		}
		heldRetry := w.deliverHeld(ctx, d)
		w.deliverDue(ctx, d, retries)
		wait := w.o.PollEvery
		now := w.now()
		for _, at := range retries {
			wait = min(wait, at.Sub(now))
		}
		if !heldRetry.IsZero() {
			wait = min(wait, heldRetry.Sub(now))
		}
		timer.Reset(max(wait, 0))
	}
}

// deliverHeld sends ch's messages held in memory that are due, and returns
// when the next one waiting for a retry is due (zero: none waits).
func (w *Worker) deliverHeld(ctx context.Context, d *drainer) time.Time {
	ch := d.ch
	for ctx.Err() == nil && w.active() && !d.stopped() {
		e, retryAt := w.held.next(ch.Name, w.now())
		if e == nil {
			return retryAt
		}
		o := w.send(ctx, ch, e.OutboxEntry)
		if ctx.Err() != nil {
			w.held.putBack(e) // shutting down: the attempt says nothing
			return time.Time{}
		}
		now := w.now()
		switch {
		case o.err == nil:
			w.held.done(e, now, time.Time{}, "")
			w.o.Observe(ch.Name, Delivered)
			w.log.Info("notification delivered", "channel", ch.Name, "kind", o.msg.Kind, "status", o.msg.Status,
				"id", e.ID, "attempts", e.Attempts+1, "queued_for", now.Sub(e.CreatedAt).Round(time.Millisecond), "durable", false)
		case !o.retry:
			w.held.remove(e)
			w.o.Observe(ch.Name, GivenUp)
			w.log.Error("notification given up", "channel", ch.Name, "id", e.ID, "attempts", e.Attempts+1, "error", o.err)
		default:
			w.o.Observe(ch.Name, Failed)
			wait := max(Backoff(e.Attempts+1, w.o.MinBackoff, w.o.MaxBackoff), o.after)
			w.log.Warn("notification not delivered, will retry", "channel", ch.Name, "id", e.ID,
				"attempt", e.Attempts+1, "retry_in", wait, "error", o.err, "durable", false)
			w.held.done(e, time.Time{}, now.Add(wait), o.err.Error())
		}
	}
	return time.Time{}
}

// deliverDue sends every message of ch that is due, until none is. retries
// maps the ids that failed to when they are due again.
func (w *Worker) deliverDue(ctx context.Context, d *drainer, retries map[string]time.Time) {
	ch := d.ch
	if !w.active() {
		return
	}
	now := w.now()
	for id, at := range retries {
		if !at.After(now) {
			delete(retries, id) // due: Due returns it, if it is still pending
		}
	}
	defer func() { w.o.Pending(ch.Name, w.undelivered(ctx, ch.Name, waiting(retries))) }()
	for ctx.Err() == nil && w.active() && !d.stopped() {
		sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
		due, err := w.o.Store.Due(sctx, ch.Name, w.now(), 0)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("outbox: cannot read due notifications", "channel", ch.Name, "error", err)
				retries[""] = w.now().Add(w.o.MinBackoff) // try again soon
			}
			return
		}
		sent := 0
		for i, e := range due {
			if !w.active() {
				// The lead passed to another member, which delivers the
				// rest of the batch: sending on would send it twice.
				return
			}
			if d.stopped() {
				return // replaced or removed by SetChannels: its successor sends the rest
			}
			if w.held.has(e.ID) {
				continue // memory sends it, or has sent it: see held
			}
			if w.now().Sub(e.CreatedAt) >= w.o.MaxAge {
				// Too old to send: expire gives it up, perhaps already
				// has since this batch was read.
				continue
			}
			sent++
			delete(retries, e.ID) // due again: deliver schedules it anew if it fails
			w.o.Pending(ch.Name, w.undelivered(ctx, ch.Name, len(due)-i+waiting(retries)))
			if !w.deliver(ctx, ch, e, retries) {
				return
			}
		}
		if sent == 0 {
			return
		}
	}
}

// undelivered is what Pending reports: every message of channel the outbox
// holds undelivered. Due returns one message per target, so a hanging
// target's queue behind its first message is invisible to the batch; the
// store counts them all, with one query on the pending index per attempt,
// cheap next to the attempt itself. When the store cannot answer, it falls
// back to estimate, what this worker knows of.
func (w *Worker) undelivered(ctx context.Context, channel string, estimate int) int {
	held := w.held.waiting(channel)
	if w.held.len() > 0 {
		return estimate + held // the store is known unavailable: do not wait for it
	}
	sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
	defer cancel()
	n, err := w.o.Store.PendingCount(sctx, channel)
	if err != nil {
		return estimate + held
	}
	return n + held
}

// waiting counts the messages in retries (not the key of a failed read).
func waiting(retries map[string]time.Time) int {
	if _, ok := retries[""]; ok {
		return len(retries) - 1
	}
	return len(retries)
}

// outcome is the result of one delivery attempt.
type outcome struct {
	msg   notify.Message
	err   error         // nil: delivered
	retry bool          // the failure may pass: try again
	after time.Duration // the wait the server asked for, if any
}

// send makes one attempt at delivering e through ch.
func (w *Worker) send(ctx context.Context, ch notify.Channel, e store.OutboxEntry) outcome {
	var p payload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return outcome{err: fmt.Errorf("unreadable payload: %w", err)}
	}
	target, ok := notify.Find([]notify.Channel{ch}, ch.Name, p.Target)
	if !ok {
		return outcome{msg: p.Message, err: errors.New("the target is no longer configured")}
	}
	actx, cancel := context.WithTimeout(ctx, w.o.AttemptTimeout)
	err := target.Notifier.Notify(actx, p.Message)
	cancel()
	if err == nil {
		return outcome{msg: p.Message}
	}
	retry, after := notify.ShouldRetry(err)
	return outcome{msg: p.Message, err: fmt.Errorf("%s: %w", ch.Name, err), retry: retry, after: after}
}

// deliver makes one attempt at e and records the outcome. It returns false
// when the outcome could not be recorded (or ctx ended), to stop the pass.
func (w *Worker) deliver(ctx context.Context, ch notify.Channel, e store.OutboxEntry, retries map[string]time.Time) bool {
	o := w.send(ctx, ch, e)
	if ctx.Err() != nil {
		return false // shutting down: the entry stays pending for the next start
	}
	now := w.now()
	if o.err == nil {
		w.o.Observe(ch.Name, Delivered)
		w.log.Info("notification delivered", "channel", ch.Name, "kind", o.msg.Kind,
			"status", o.msg.Status, "id", e.ID, "attempts", e.Attempts+1, "queued_for", now.Sub(e.CreatedAt).Round(time.Millisecond))
		sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
		err := w.o.Store.MarkDelivered(sctx, e.ID, now)
		cancel()
		if err != nil {
			// Sent but not recorded: hold it as delivered, so that it is
			// neither sent again meanwhile nor forgotten; it is recorded
			// when the store answers.
			w.hold([]store.OutboxEntry{e}, now, err)
			return false
		}
		delete(retries, e.ID)
		return true
	}
	if !o.retry {
		return w.abandon(ctx, e, o.err.Error())
	}
	w.o.Observe(ch.Name, Failed)
	wait := max(Backoff(e.Attempts+1, w.o.MinBackoff, w.o.MaxBackoff), o.after)
	next := now.Add(wait)
	w.log.Warn("notification not delivered, will retry", "channel", ch.Name, "id", e.ID,
		"attempt", e.Attempts+1, "retry_in", wait, "error", o.err)
	sctx, cancel := context.WithTimeout(ctx, w.o.StoreTimeout)
	err := w.o.Store.MarkFailed(sctx, e.ID, o.err.Error(), next)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("outbox: cannot record a failed attempt", "channel", ch.Name, "id", e.ID, "error", err)
		}
		retries[e.ID] = now.Add(w.o.MinBackoff)
		return false
	}
	retries[e.ID] = next
	return true
}

// abandon gives up e at once: no retry can fix why it failed.
func (w *Worker) abandon(ctx context.Context, e store.OutboxEntry, reason string) bool {
	w.o.Observe(e.Channel, GivenUp)
	w.log.Error("notification given up", "channel", e.Channel, "id", e.ID,
		"attempts", e.Attempts+1, "error", reason)
	if err := w.o.Store.Abandon(ctx, e.ID, reason, w.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		if ctx.Err() == nil {
			w.log.Error("outbox: cannot record a given-up notification", "channel", e.Channel, "id", e.ID, "error", err)
		}
		return false
	}
	return true
}

// Backoff returns the wait after the given number of failed attempts (from
// 1): first, doubling with each attempt, capped at limit.
func Backoff(attempts int, first, limit time.Duration) time.Duration {
	d := first
	for i := 1; i < attempts && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
