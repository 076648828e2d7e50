// Package outbox delivers notifications so that none is lost: each message
// for each target is first written to the store's outbox, then sent by a
// worker that retries it until the target accepts it or it grows too old.
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
	Now       func() time.Time
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

// Worker delivers the outbox. Its methods are safe for concurrent use.
type Worker struct {
	o    Options
	log  *slog.Logger
	now  func() time.Time
	wake map[string]chan struct{} // per channel, cap 1
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
	w := &Worker{o: o, log: log, now: o.Now, wake: make(map[string]chan struct{})}
	for _, ch := range o.Channels {
		w.wake[ch.Name] = make(chan struct{}, 1)
	}
	return w
}

// Enqueue writes items to the outbox and wakes their channels. It returns
// once the write is committed, with the number of items that were new; it
// never waits for a delivery.
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
	n, err := w.o.Store.Enqueue(ctx, entries)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	for _, it := range items {
		if c, ok := w.wake[it.Channel]; ok {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	return n, nil
}

func (w *Worker) active() bool { return w.o.Active == nil || w.o.Active() }

// Run delivers until ctx ends. A message being sent when ctx ends stays in
// the outbox and is sent again at the next start: delivery is at least
// once, never none.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ch := range w.o.Channels {
		wg.Go(func() { w.drain(ctx, ch) })
	}
	wg.Go(func() { w.expire(ctx) })
	wg.Wait()
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
	for _, e := range gone {
		w.o.Observe(e.Channel, GivenUp)
		w.log.Error("notification given up: not delivered in time",
			"channel", e.Channel, "id", e.ID, "created", e.CreatedAt, "attempts", e.Attempts,
			"max_age", w.o.MaxAge, "last_error", e.LastError)
	}
}

// drain delivers one channel's due messages whenever it is woken, a retry
// falls due, or PollEvery passes.
func (w *Worker) drain(ctx context.Context, ch notify.Channel) {
	retries := make(map[string]time.Time) // ids this worker scheduled a retry for
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-w.wake[ch.Name]:
		}
		w.deliverDue(ctx, ch, retries)
		wait := w.o.PollEvery
		now := w.now()
		for _, at := range retries {
			wait = min(wait, at.Sub(now))
		}
		timer.Reset(max(wait, 0))
	}
}

// deliverDue sends every message of ch that is due, until none is. retries
// maps the ids that failed to when they are due again.
func (w *Worker) deliverDue(ctx context.Context, ch notify.Channel, retries map[string]time.Time) {
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
	for ctx.Err() == nil && w.active() {
		due, err := w.o.Store.Due(ctx, ch.Name, w.now(), 0)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("outbox: cannot read due notifications", "channel", ch.Name, "error", err)
				retries[""] = w.now().Add(w.o.MinBackoff) // try again soon
			}
			return
		}
		if len(due) == 0 {
			return
		}
		for i, e := range due {
			delete(retries, e.ID) // due again: deliver schedules it anew if it fails
			w.o.Pending(ch.Name, w.undelivered(ctx, ch.Name, len(due)-i+waiting(retries)))
			if !w.deliver(ctx, ch, e, retries) {
				return
			}
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
	n, err := w.o.Store.PendingCount(ctx, channel)
	if err != nil {
		return estimate
	}
	return n
}

// waiting counts the messages in retries (not the key of a failed read).
func waiting(retries map[string]time.Time) int {
	if _, ok := retries[""]; ok {
		return len(retries) - 1
	}
	return len(retries)
}

// deliver makes one attempt at e and records the outcome. It returns false
// when the outcome could not be recorded (or ctx ended), to stop the pass.
func (w *Worker) deliver(ctx context.Context, ch notify.Channel, e store.OutboxEntry, retries map[string]time.Time) bool {
	var p payload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return w.abandon(ctx, e, fmt.Sprintf("unreadable payload: %v", err))
	}
	target, ok := notify.Find([]notify.Channel{ch}, ch.Name, p.Target)
	if !ok {
		return w.abandon(ctx, e, "the target is no longer configured")
	}

	actx, cancel := context.WithTimeout(ctx, w.o.AttemptTimeout)
	err := target.Notifier.Notify(actx, p.Message)
	cancel()
	if ctx.Err() != nil {
		return false // shutting down: the entry stays pending for the next start
	}
	now := w.now()
	if err == nil {
		if err := w.o.Store.MarkDelivered(ctx, e.ID, now); err != nil {
			// Sent but not recorded: it will be sent again. Say so.
			w.log.Error("outbox: notification sent but not recorded as delivered; it may be sent twice",
				"channel", ch.Name, "id", e.ID, "error", err)
			retries[e.ID] = now.Add(w.o.MinBackoff)
			return false
		}
		w.o.Observe(ch.Name, Delivered)
		w.log.Info("notification delivered", "channel", ch.Name, "kind", p.Message.Kind,
			"status", p.Message.Status, "id", e.ID, "attempts", e.Attempts+1, "queued_for", now.Sub(e.CreatedAt).Round(time.Millisecond))
		delete(retries, e.ID)
		return true
	}

	retry, after := notify.ShouldRetry(err)
	if !retry {
		return w.abandon(ctx, e, fmt.Sprintf("%s: %v", ch.Name, err))
	}
	w.o.Observe(ch.Name, Failed)
	wait := max(Backoff(e.Attempts+1, w.o.MinBackoff, w.o.MaxBackoff), after)
	next := now.Add(wait)
	w.log.Warn("notification not delivered, will retry", "channel", ch.Name, "id", e.ID,
		"attempt", e.Attempts+1, "retry_in", wait, "error", err)
	if err := w.o.Store.MarkFailed(ctx, e.ID, fmt.Sprintf("%s: %v", ch.Name, err), next); err != nil {
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
