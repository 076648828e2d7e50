package monitor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// A late start is remembered for one to two windows, the greatest of them.
func TestLateStartsWindow(t *testing.T) {
	var l lateStarts
	t0 := time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)
	l.record(t0, 30*time.Millisecond)
	l.record(t0.Add(10*time.Millisecond), 5*time.Millisecond)
	if got := l.max(t0.Add(50 * time.Millisecond)); got != 30*time.Millisecond {
		t.Errorf("within the window: %v, want the greatest start lateness 30ms", got)
	}
	if got := l.max(t0.Add(latenessWindow + time.Millisecond)); got != 30*time.Millisecond {
		t.Errorf("in the next window: %v, want the previous window's 30ms", got)
	}
	if got := l.max(t0.Add(3 * latenessWindow)); got != 0 {
		t.Errorf("two windows on: %v, want 0 (no late start)", got)
	}
	l.record(t0.Add(5*latenessWindow), time.Millisecond)
	if got := l.max(t0.Add(5 * latenessWindow)); got != time.Millisecond {
		t.Errorf("after a new late start: %v, want 1ms", got)
	}
}

// The monitor's lateness is how late runs start against their due time,
// and how long the next one is overdue while nothing can start.
func TestSchedulerLateness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(1, time.Now) // one slot: the second run waits for the first
		start := time.Now()
		blocked, seen := make(chan time.Duration, 1), make(chan time.Duration, 1)
		s.add(func(ctx context.Context) {
			if time.Since(start) > time.Second {
				return
			}
			time.Sleep(150 * time.Millisecond)
			blocked <- s.lateness(time.Now())
			time.Sleep(150 * time.Millisecond)
		}, time.Hour, 0, 1, start)
		s.add(func(ctx context.Context) {
			select {
			case seen <- s.lateness(time.Now()):
			default:
			}
		}, time.Hour, 0, 1, start)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()

		if got := <-blocked; got != 150*time.Millisecond {
			t.Errorf("while a run holds the only slot: %v, want the next run's 150ms overdue", got)
		}
		if got := <-seen; got != 300*time.Millisecond {
			t.Errorf("when the waiting run starts: %v, want its 300ms late start", got)
		}
		time.Sleep(3 * latenessWindow)
		if got := s.lateness(time.Now()); got != 0 {
			t.Errorf("once every run started and none is due: %v, want 0", got)
		}
		cancel()
		<-done
	})
}
