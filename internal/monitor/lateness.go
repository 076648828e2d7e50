package monitor

import (
	"sync"
	"time"
)

// Lateness reports how far behind the checks are: the most a probe run
// started after its due time over the last latenessWindow or so, or how
// long the next run has been overdue if that is more (the run waiting for a
// parallelism slot, or the first in the queue), since a scheduler that
// cannot start anything records no late start. A wait for a parallelism
// slot counts as late too, even when hung targets rather than a busy CPU
// hold the slots: it is the conservative reading for whoever decides from
// it how much of the machine the checks can spare (the web server does).
// It is cheap: two short locks and an atomic load per scheduler.
func (m *Monitor) Lateness() time.Duration {
	now := m.now()
	return max(m.poll.lateness(now), m.script.lateness(now))
}

// latenessWindow is how long a late start is remembered: between one and
// two windows.
const latenessWindow = 100 * time.Millisecond

// lateStarts keeps the greatest lateness of the starts of the current
// window and of the one before.
type lateStarts struct {
	mu        sync.Mutex
	start     time.Time // of the current window
	cur, prev time.Duration
}

// roll moves to the window now falls in.
func (l *lateStarts) roll(now time.Time) {
	switch age := now.Sub(l.start); {
	case age < latenessWindow:
		return
	case age < 2*latenessWindow:
		l.prev = l.cur
	default:
		l.prev = 0
	}
	l.cur, l.start = 0, now
}

// record notes a start late by late at now.
func (l *lateStarts) record(now time.Time, late time.Duration) {
	l.mu.Lock()
	l.roll(now)
	l.cur = max(l.cur, late)
	l.mu.Unlock()
}

// max returns the greatest lateness recorded over the last one or two
// windows.
func (l *lateStarts) max(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roll(now)
	return max(l.cur, l.prev)
}

// lateness is the scheduler's part of Monitor.Lateness.
func (s *scheduler) lateness(now time.Time) time.Duration {
	late := s.late.max(now)
	if due := s.waiting.Load(); due != 0 {
		late = max(late, now.Sub(time.Unix(0, due)))
	}
	s.mu.Lock()
	if len(s.queue) > 0 {
		late = max(late, now.Sub(s.queue[0].due))
	}
	s.mu.Unlock()
	return late
}
