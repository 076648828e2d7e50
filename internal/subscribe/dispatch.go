package subscribe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
)

// lookback bounds how far back the dispatcher reads events: anything
// older was sent long ago, or was missed while subscriptions were off for
// that long, and is stale news.
const lookback = 7 * 24 * time.Hour

// enqueueChunk bounds one outbox write, so that 10,000 subscribers are
// queued in a few transactions rather than one huge one.
const enqueueChunk = 1000

// Run fans new events out to subscribers until ctx ends: every
// DispatchEvery it reads the incidents, maintenance windows and
// announcements since the last events it sent (the store keeps which),
// queues one outbox entry per subscriber for each new one, then records it
// sent. A restart or a failover between the two re-queues the same
// entries, which the outbox's idempotency keys make a no-op: each
// subscriber gets each event once. It also prunes pending subscribers
// whose link expired, old keys and old records.
//
// The outbox worker delivering the messages runs alongside, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.out.Run(ctx) })
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	lastPrune := time.Time{}
	for {
		if s.active() {
			if err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("subscriptions: cannot send new events", "error", err)
			}
			if now := s.now(); now.Sub(lastPrune) >= time.Hour {
				if err := s.prune(ctx, now); err != nil && ctx.Err() == nil {
					s.log.Error("subscriptions: cannot prune", "error", err)
				} else {
					lastPrune = now
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Dispatch queues the events not sent yet, once; Run calls it.
func (s *Service) Dispatch(ctx context.Context) error {
	now := s.now()
	start, err := s.st.SubscriptionsStart(ctx, now)
	if err != nil {
		return err
	}
	since := now.Add(-lookback)
	if start.After(since) {
		since = start
	}
	events, err := s.events(ctx, since, now)
	if err != nil {
		return err
	}
	sent, err := s.st.SentEvents(ctx, since)
	if err != nil {
		return err
	}
	var fresh []Event
	for _, e := range events {
		if !sent[e.Key] {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	subs, err := s.st.Subscribers(ctx, true)
	if err != nil {
		return err
	}
	for _, e := range fresh {
		n, err := s.fanOut(ctx, e, subs)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.Key, err)
		}
		// Recorded at its time, which for a scheduled window is its start:
		// the record is read back for as long as the event is derived.
		if err := s.st.MarkEventsSent(ctx, []store.SubscriptionEvent{{Key: e.Key, At: e.At}}); err != nil {
			return err
		}
		s.log.Info("subscriptions: event queued", "event", e.Key, "type", e.Type, "subscribers", n)
	}
	return nil
}

// fanOut queues e for every subscriber it concerns and returns how many.
func (s *Service) fanOut(ctx context.Context, e Event, subs []store.Subscriber) (int, error) {
	items := make([]outbox.Item, 0, min(len(subs), enqueueChunk))
	n := 0
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		_, err := s.out.Enqueue(ctx, items)
		items = items[:0]
		return err
	}
	// The message is the same for every subscriber: encoded once, each
	// entry only names its subscriber.
	bulletin, err := s.item("", "", "", content{Kind: kindBulletin, Event: &e})
	if err != nil {
		return n, err
	}
	for _, sub := range subs {
		if !e.concerns(sub.Services) {
			continue
		}
		channel, ok := channelOf[sub.Kind]
		if !ok {
			return n, fmt.Errorf("subscriber %s: no channel for kind %q", sub.ID, sub.Kind)
		}
		it := bulletin
		it.ID, it.Channel, it.Target = idempotencyKey(e.Key, sub.ID), channel, sub.ID
		items = append(items, it)
		n++
		if len(items) == enqueueChunk {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// idempotencyKey is the outbox id of one event for one subscriber: the
// same whoever derives it, so that it is queued, and sent, once.
func idempotencyKey(event, subscriber string) string {
	sum := sha256.Sum256([]byte(event + "\x00" + subscriber))
	return "subscription:" + hex.EncodeToString(sum[:16])
}

// prune forgets pending subscribers whose link expired, signing keys no
// valid link can need, and records of events older than the lookback.
func (s *Service) prune(ctx context.Context, now time.Time) error {
	if n, err := s.st.PrunePending(ctx, now.Add(-LinkLifetime)); err != nil {
		return err
	} else if n > 0 {
		s.log.Info("subscriptions: unconfirmed addresses forgotten", "count", n)
	}
	if err := s.signer.prune(ctx); err != nil {
		return err
	}
	return s.st.PruneSentEvents(ctx, now.Add(-2*lookback))
}
