package monitor

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A task is one replica checked at a fixed rate.
type task struct {
	due      time.Time
	interval time.Duration             // the replica's node's own
	run      func(ctx context.Context) // checks the replica and records the result
	index    int                       // in the heap; -1 while it runs (see reschedule.go)
	removed  bool                      // dropped by a reload: not queued again
}

// scheduler runs tasks at a fixed rate: each task starts every interval of
// its own, measured from when its previous run was due, with at most
// parallelism runs in flight. A run that outlasts its interval delays only
// its own next run; the others keep their cadence as long as a slot is
// free. One heap orders every task whatever its interval, so the cost of a
// start stays logarithmic in the number of replicas.
type scheduler struct {
	parallelism int
	now         func() time.Time

	mu    sync.Mutex
	queue taskHeap
	wake  chan struct{} // cap 1: a task was queued

	late    lateStarts   // how late runs started (lateness.go)
	waiting atomic.Int64 // the due time (UnixNano) of the run waiting for a slot; 0: none
}

func newScheduler(parallelism int, now func() time.Time) *scheduler {
	return &scheduler{
		parallelism: max(parallelism, 1),
		now:         now,
		wake:        make(chan struct{}, 1),
	}
}

// firstRound is the share of the first interval over which first starts
// are spread: the rest leaves the last probes of the round time to finish,
// so every replica has a result within one interval of the start.
const firstRound = 0.8

// add queues run every interval, its first start spread over its first
// interval according to its position among the n tasks of that interval, so
// that they do not all fire at once.
func (s *scheduler) add(run func(ctx context.Context), interval time.Duration, position, n int, start time.Time) *task {
	offset := time.Duration(0)
	if n > 0 {
		offset = time.Duration(float64(interval) * firstRound * float64(position) / float64(n))
	}
	t := &task{due: start.Add(offset), interval: interval, run: run}
	s.mu.Lock()
	heap.Push(&s.queue, t)
	s.mu.Unlock()
	s.poke()
	return t
}

// poke wakes Run to look at the queue again.
func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run starts tasks as they fall due until ctx ends, then waits for the runs
// in flight to return.
func (s *scheduler) Run(ctx context.Context) {
	slots := make(chan struct{}, s.parallelism)
	var wg sync.WaitGroup
	defer wg.Wait()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var next *task
		var run func(context.Context)
		wait := time.Hour
		if len(s.queue) > 0 {
			if d := s.queue[0].due.Sub(s.now()); d <= 0 {
				next = heap.Pop(&s.queue).(*task)
				run = next.run // a reload may swap it meanwhile
			} else {
				wait = d
			}
		}
		s.mu.Unlock()

		if next == nil {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			case <-s.wake:
			}
			continue
		}

		// Wait for a free slot: with every slot held by a hung target, the
		// others wait at most for the probe timeout that frees one.
		s.waiting.Store(next.due.UnixNano())
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		s.waiting.Store(0)
		if now := s.now(); now.After(next.due) {
			s.late.record(now, now.Sub(next.due))
		}
		wg.Go(func() {
			defer func() { <-slots }()
			run(ctx)
			s.mu.Lock()
			if next.removed {
				s.mu.Unlock()
				return
			}
			// Fixed rate from when this run was due, not from when it
			// started: a late start (a busy CPU, a wait for a free slot)
			// must not shift the cadence for good. A run that outlasted
			// its interval starts again at once, never two at a time.
			next.due = next.due.Add(next.interval)
			if now := s.now(); next.due.Before(now) {
				next.due = now
			}
			heap.Push(&s.queue, next)
			s.mu.Unlock()
			s.poke()
		})
	}
}

// taskHeap orders tasks by due time (container/heap).
type taskHeap []*task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
