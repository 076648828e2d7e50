package cluster

import (
	"sync"
	"time"
)

// A leader cut off from the database must stop leading on its own, and the
// others must be able to take over, without waiting for TCP to notice: a
// black-holed connection (no reset, no close) can stay open for hours.
//
// The bound is the member timeout, on both sides:
//
//   - The leader holds a lease: it may act (decide, hand decisions to the
//     alerting, deliver) only while both its last heartbeat that reached the
//     database and its last round on the lock connection that succeeded were
//     sent less than a member timeout ago. Every round runs under that
//     deadline, so a hanging connection ends the leadership when the lease
//     runs out, not when TCP gives up.
//   - The others see the leader as down once its heartbeat in the database
//     is older than a member timeout. Its lease counts from when it sent
//     that heartbeat, which is no later than when the database wrote it, so
//     by then the leader has already stopped. A candidate that finds the
//     lock held by a member in that state ends the holder's backend
//     (pg_terminate_backend), which releases the lock, and takes it.
//
// So a black-holed leader is replaced within a member timeout and a
// heartbeat interval of its last heartbeat (when a candidate next tries),
// plus the time the candidate needs to take over.

// lease is how long this member may go on acting as leader without news
// from the database. Times are this process's monotonic clock.
type lease struct {
	timeout time.Duration
	written chan struct{} // cap 1: a heartbeat was written

	mu        sync.Mutex
	heartbeat time.Time // when the last heartbeat that was written was sent
	lock      time.Time // when the last round on the lock connection that succeeded began
}

func newLease(timeout time.Duration) *lease {
	return &lease{timeout: timeout, written: make(chan struct{}, 1)}
}

// heartbeatWritten records a heartbeat, sent at sent, that the database
// wrote.
func (l *lease) heartbeatWritten(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sent.After(l.heartbeat) {
		l.heartbeat = sent
	}
	select {
	case l.written <- struct{}{}:
	default:
	}
}

// lockAnswered records a round on the lock connection, begun at began,
// that succeeded; the first one is the taking of the lock.
func (l *lease) lockAnswered(began time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if began.After(l.lock) {
		l.lock = began
	}
}

// released forgets the lock connection's rounds, for the next leadership.
func (l *lease) released() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lock = time.Time{}
}

// heartbeatFresh reports whether the others see this member as live at
// now, as far as this member can tell: only then may it try to lead.
func (l *lease) heartbeatFresh(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.heartbeat.IsZero() && now.Sub(l.heartbeat) < l.timeout
}

// expiry is when the leadership must end unless the database answers
// again; the zero time when there is no leadership to end (no round on the
// lock connection yet).
func (l *lease) expiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock.IsZero() || l.heartbeat.IsZero() {
		return time.Time{}
	}
	oldest := l.lock
	if l.heartbeat.Before(oldest) {
		oldest = l.heartbeat
	}
	return oldest.Add(l.timeout)
}

// valid reports whether a leader may still act at now.
func (l *lease) valid(now time.Time) bool {
	e := l.expiry()
	return !e.IsZero() && now.Before(e)
}
