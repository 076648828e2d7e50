package outbox

import (
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/store"
)

// DefaultMaxHeld bounds the messages kept in memory while the store is
// unavailable: far more than the alerts of any real outage, and at a few
// KiB each, a few tens of MiB at most.
const DefaultMaxHeld = 10000

// held is what the store could not take: messages kept in memory while it
// is unavailable (refusing, hanging or full), delivered from there, and
// written to the store once it answers again, delivered ones as delivered.
//
// A held message's id belongs to memory until it is written: the worker
// skips a store entry with that id (an Enqueue that timed out may have
// committed after all), so that no message goes out both ways.
type held struct {
	mu      sync.Mutex
	entries []*heldEntry // in enqueue order
	byID    map[string]*heldEntry
	limit   int
	// sent remembers, by id, the messages delivered from memory and since
	// recorded in the store, with their creation time: a channel may have
	// read one from the store as due just before its delivery was recorded,
	// and must still skip it. Kept until the message is too old to be sent
	// anyway (MaxAge; expired prunes them).
	sent map[string]time.Time
}

// heldEntry is one held message and what happened to it.
type heldEntry struct {
	store.OutboxEntry
	delivered time.Time // zero while undelivered
	// busy: a channel is sending it, or it is being written to the store;
	// nobody else touches it meanwhile.
	busy    bool
	written bool // in the store already; only its delivery is left to record
}

func newHeld(limit int) *held {
	return &held{byID: map[string]*heldEntry{}, sent: map[string]time.Time{}, limit: limit}
}

// len counts the held messages.
func (h *held) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// has tells whether memory owns the message with this id, or sent it.
func (h *held) has(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.byID[id]
	_, sent := h.sent[id]
	return ok || sent
}

// add holds entries not held yet; delivered marks them as sent already (a
// delivery whose record the store refused). It returns how many were new
// and the undelivered messages dropped, oldest first, to stay within the
// limit.
func (h *held) add(entries []store.OutboxEntry, delivered time.Time) (added int, dropped []store.OutboxEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range entries {
		if _, ok := h.byID[e.ID]; ok {
			continue
		}
		he := &heldEntry{OutboxEntry: e, delivered: delivered}
		h.entries = append(h.entries, he)
		h.byID[e.ID] = he
		added++
	}
	for len(h.entries) > h.limit {
		i := 0
		for i < len(h.entries) && h.entries[i].busy {
			i++
		}
		if i == len(h.entries) {
			break
		}
		dropped = append(dropped, h.entries[i].OutboxEntry)
		h.removeLocked(h.entries[i])
	}
	return added, dropped
}

// next returns the first undelivered message of channel that is due at now
// and marks it busy, or nil. A target's messages go out in order: a target
// whose first message waits for a retry (or is being sent) gets nothing.
// It also returns when the earliest waiting retry of the channel is due.
func (h *held) next(channel string, now time.Time) (e *heldEntry, retryAt time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	blocked := map[string]bool{}
	for _, he := range h.entries {
		if he.Channel != channel || !he.delivered.IsZero() || he.written || blocked[he.Target] {
			continue
		}
		blocked[he.Target] = true
		if he.busy {
			continue
		}
		if he.NextAttempt.After(now) {
			if retryAt.IsZero() || he.NextAttempt.Before(retryAt) {
				retryAt = he.NextAttempt
			}
			continue
		}
		he.busy = true
		return he, retryAt
	}
	return nil, retryAt
}

// waiting counts channel's undelivered messages.
func (h *held) waiting(channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, he := range h.entries {
		if he.Channel == channel && he.delivered.IsZero() && !he.written {
			n++
		}
	}
	return n
}

// done records the outcome of sending e: delivered at t (non-zero), or a
// failed attempt to retry at next. It releases e.
func (h *held) done(e *heldEntry, t, next time.Time, errText string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.busy = false
	if !t.IsZero() {
		e.delivered = t
		return
	}
	e.Attempts++
	e.NextAttempt, e.LastError = next, errText
}

// remove forgets e (given up, or written to the store undelivered).
func (h *held) remove(e *heldEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(e)
}

// recorded forgets e, delivered from memory and now recorded as delivered
// in the store, but remembers that it was sent (see sent).
func (h *held) recorded(e *heldEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byID[e.ID] == e {
		h.sent[e.ID] = e.CreatedAt
	}
	h.removeLocked(e)
}

func (h *held) removeLocked(e *heldEntry) {
	if h.byID[e.ID] != e {
		return
	}
	delete(h.byID, e.ID)
	for i, x := range h.entries {
		if x == e {
			h.entries = append(h.entries[:i], h.entries[i+1:]...)
			break
		}
	}
}

// claim marks every message nobody is sending busy and returns them, to be
// written to the store.
func (h *held) claim() []*heldEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*heldEntry
	for _, he := range h.entries {
		if !he.busy {
			he.busy = true
			out = append(out, he)
		}
	}
	return out
}

// release hands back messages claimed but not written, marking the ones
// written since.
func (h *held) release(es []*heldEntry, written bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range es {
		e.busy = false
		if written {
			e.written = true
		}
	}
}

// expired removes and returns the undelivered messages created before t,
// and forgets the sent ones as old (no channel sends them any more).
func (h *held) expired(t time.Time) []store.OutboxEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []store.OutboxEntry
	for _, he := range h.entries {
		if !he.busy && he.delivered.IsZero() && !he.written && he.CreatedAt.Before(t) {
			out = append(out, he.OutboxEntry)
		}
	}
	for _, e := range out {
		h.removeLocked(h.byID[e.ID])
	}
	for id, created := range h.sent {
		if created.Before(t) {
			delete(h.sent, id)
		}
	}
	return out
}

// putBack releases e without an outcome: its attempt was cut short.
func (h *held) putBack(e *heldEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.busy = false
}
