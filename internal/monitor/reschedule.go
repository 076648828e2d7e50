package monitor

import (
	"container/heap"
	"context"
	"time"
)

// update gives a task a new check and interval, as a reload does when a
// replica stays but its node's settings change. The next run keeps its
// place in the cadence: it is due one new interval after the last run was
// due (at once if that is past), so a shorter interval applies from the
// next check rather than after the old, longer wait. A task running now
// takes them when it is queued again.
func (s *scheduler) update(t *task, run func(ctx context.Context), interval time.Duration) {
	s.mu.Lock()
	t.run = run
	if interval != t.interval {
		if t.index >= 0 {
			t.due = t.due.Add(interval - t.interval)
			if now := s.now(); t.due.Before(now) {
				t.due = now
			}
			heap.Fix(&s.queue, t.index)
		}
		t.interval = interval
	}
	s.mu.Unlock()
	s.poke()
}

// remove stops a task: it leaves the queue, and a run in flight finishes
// but is not queued again.
func (s *scheduler) remove(t *task) {
	s.mu.Lock()
	t.removed = true
	if t.index >= 0 {
		heap.Remove(&s.queue, t.index)
	}
	s.mu.Unlock()
}
