package monitor

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// runLog records when each task started.
type runLog struct {
	mu     sync.Mutex
	starts map[int][]time.Time
}

func (l *runLog) add(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts[i] = append(l.starts[i], time.Now())
}

// TestSchedulerFixedRate checks that each task starts every interval from
// the start of its previous run, not from its end, and that first runs are
// spread over the first 80 % of the first interval.
func TestSchedulerFixedRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 4
		s := newScheduler(n, time.Now)
		log := &runLog{starts: map[int][]time.Time{}}
		start := time.Now()
		for i := range n {
			s.add(func(ctx context.Context) {
				log.add(i)
				time.Sleep(300 * time.Millisecond) // a slow target: must not drift the cadence
			}, time.Second, i, n, start)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second-time.Millisecond)
		defer cancel()
		s.Run(ctx)

		for i := range n {
			got := log.starts[i]
			if len(got) != 10 {
				t.Fatalf("task %d ran %d times in 10s, want 10", i, len(got))
			}
			wantFirst := time.Duration(i) * 800 * time.Millisecond / n
			if d := got[0].Sub(start); d != wantFirst {
				t.Errorf("task %d first run at +%v, want +%v", i, d, wantFirst)
			}
			for k := 1; k < len(got); k++ {
				if d := got[k].Sub(got[k-1]); d != time.Second {
					t.Errorf("task %d run %d came %v after the previous, want 1s", i, k, d)
				}
			}
		}
	})
}

// TestSchedulerHungTargets checks that hung targets holding slots do not
// starve the others: with free slots the healthy tasks keep their exact
// cadence, and with every slot held they wait at most one timeout.
func TestSchedulerHungTargets(t *testing.T) {
	tests := []struct {
		name        string
		parallelism int
		hung        int
		maxGap      time.Duration // longest allowed gap between runs of a healthy task
		minRuns     int           // per healthy task over 60s
	}{
		{name: "free slots", parallelism: 4, hung: 2, maxGap: time.Second, minRuns: 60},
		{name: "every slot hung", parallelism: 2, hung: 2, maxGap: time.Second + 5*time.Second, minRuns: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const total = 10
				s := newScheduler(tt.parallelism, time.Now)
				log := &runLog{starts: map[int][]time.Time{}}
				start := time.Now()
				for i := range total {
					hung := i < tt.hung
					s.add(func(ctx context.Context) {
						log.add(i)
						if hung {
							select { // hangs until its 5s timeout
							case <-time.After(5 * time.Second):
							case <-ctx.Done():
							}
						}
					}, time.Second, i, total, start)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second-time.Millisecond)
				defer cancel()
				s.Run(ctx)

				for i := tt.hung; i < total; i++ {
					got := log.starts[i]
					if len(got) < tt.minRuns {
						t.Errorf("healthy task %d ran %d times in 60s, want at least %d", i, len(got), tt.minRuns)
					}
					for k := 1; k < len(got); k++ {
						if d := got[k].Sub(got[k-1]); d > tt.maxGap {
							t.Errorf("healthy task %d waited %v between runs, want at most %v", i, d, tt.maxGap)
							break
						}
					}
				}
				for i := range tt.hung {
					if got := len(log.starts[i]); got > 12 {
						t.Errorf("hung task %d ran %d times, want at most 12 (never two runs at once)", i, got)
					}
				}
			})
		})
	}
}

// TestSchedulerLateStartKeepsCadence checks that a run that starts late,
// here because the only slot was busy, does not shift the task's cadence:
// its next run is due one interval after the late run was due.
func TestSchedulerLateStartKeepsCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(1, time.Now)
		log := &runLog{starts: map[int][]time.Time{}}
		start := time.Now()
		first := true
		s.add(func(ctx context.Context) {
			log.add(0)
			if first { // holds the slot past task 1's due time, once
				first = false
				time.Sleep(800 * time.Millisecond)
			}
		}, time.Second, 0, 2, start)
		s.add(func(ctx context.Context) { log.add(1) }, time.Second, 1, 2, start)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second-time.Millisecond)
		defer cancel()
		s.Run(ctx)

		got := log.starts[1]
		// Task 1 is due at +0.4s (the first round spreads over 0.8s), starts
		// late at +0.8s, and keeps its cadence from +0.4s.
		want := []time.Duration{800 * time.Millisecond, 1400 * time.Millisecond, 2400 * time.Millisecond, 3400 * time.Millisecond, 4400 * time.Millisecond}
		if len(got) != len(want) {
			t.Fatalf("task 1 ran %d times in 5s, want %d", len(got), len(want))
		}
		for k, w := range want {
			if d := got[k].Sub(start); d != w {
				t.Errorf("task 1 run %d at +%v, want +%v", k, d, w)
			}
		}
	})
}

// TestSchedulerMixedIntervals runs tasks of 1 s, 5 s and 30 s intervals
// together: each starts at its own rate, exactly, and each interval's
// first round is spread over that interval.
func TestSchedulerMixedIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		intervals := []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
		const perInterval = 3
		s := newScheduler(4, time.Now)
		log := &runLog{starts: map[int][]time.Time{}}
		start := time.Now()
		for k, iv := range intervals {
			for p := range perInterval {
				id := k*perInterval + p
				s.add(func(ctx context.Context) { log.add(id) }, iv, p, perInterval, start)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second-time.Millisecond)
		defer cancel()
		s.Run(ctx)
		for k, iv := range intervals {
			for p := range perInterval {
				got := log.starts[k*perInterval+p]
				if want := int(60 * time.Second / iv); len(got) != want {
					t.Errorf("task every %v ran %d times in 60s, want %d", iv, len(got), want)
					continue
				}
				if first, want := got[0].Sub(start), time.Duration(float64(iv)*firstRound*float64(p)/perInterval); first != want {
					t.Errorf("task every %v, position %d: first run at +%v, want +%v", iv, p, first, want)
				}
				for i := 1; i < len(got); i++ {
					if d := got[i].Sub(got[i-1]); d != iv {
						t.Errorf("task every %v: runs %v apart, want %v", iv, d, iv)
						break
					}
				}
			}
		}
	})
}
