package web

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Serving must never take the CPU that checks need. The documents a crowd
// reads (the page, the report, the history feeds) are rendered once per
// state and kept as bytes (memo in cache.go); their renders are spaced out
// when they are expensive and share a few render slots, and big bodies are
// written in chunks that each hold a write slot (writeBounded). How many
// slots there are follows how late the checks start (share): all the CPUs
// while the checks keep their schedule, fewer as soon as they fall behind.
// Without a reading of the checks (Options.ChecksLate unset), serving keeps
// to half of the CPUs.

// bound is a server's render and write slots and what sizes them.
type bound struct {
	render, write *slots
	share         *share
}

// newBound sizes its slots from late (see share); a nil late keeps them at
// half of the CPUs.
func newBound(late func() time.Duration, now func() time.Time) *bound {
	b := &bound{render: newSlots(halfCPUs()), write: newSlots(halfCPUs())}
	b.share = newShare(late, now, runtime.GOMAXPROCS(0), b.render, b.write)
	return b
}

// halfCPUs is the share of the CPUs serving keeps to when the checks are
// late or unknown: half of them, at least one.
func halfCPUs() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// defaultBound serves the memos and renditions that no Server owns (tests).
var defaultBound = newBound(nil, time.Now)

// tryAcquire takes one of sl without waiting, if one is free.
func (b *bound) tryAcquire(sl *slots) bool {
	b.share.adjust()
	return sl.tryAcquire()
}

// acquire takes one of sl, waiting for one to be free.
func (b *bound) acquire(sl *slots) {
	b.share.adjust()
	sl.acquire()
}

// Writing a big body costs CPU too: on loopback, or to fast clients, a
// 6 MB page is a copy the kernel makes as fast as one CPU allows, and 64
// connections reading it at once take every CPU there is. A body of
// spacedAbove bytes or more (a page of hundreds of nodes) is therefore
// written in chunks of writeChunk, each while holding a write slot, so that
// writes to fast clients share the CPUs serving may use and the others stay
// free for the checks; small chunks let the checks' work in between. A
// chunk that a slow client does not take at once holds its slot for at
// most slotHold: such a client is paced by its network, not by the CPU, and
// the rest of its body is written without a slot, so that it never holds
// the others up. Smaller bodies are one write: a slot and its timer per
// chunk halved the rate of a report of 1000 nodes (77 KB). Chunks of 256 KB
// rather than 32 KB served a 5000-node page and the Statuspage summary of
// 1000 nodes 10% and 65% faster with the checks still on time
// (bench/RESULTS.md).
const (
	writeChunk = 256 << 10
	slotHold   = 20 * time.Millisecond
)

// writeBounded writes body to w as described above.
func (b *bound) writeBounded(w io.Writer, body []byte) error {
	if len(body) < spacedAbove {
		_, err := w.Write(body)
		return err
	}
	slow := false
	for len(body) > 0 {
		n := min(len(body), writeChunk)
		var err error
		if slow {
			_, err = w.Write(body[:n])
		} else {
			slow, err = b.writeInSlot(w, body[:n])
		}
		if err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// writeInSlot writes chunk while holding a write slot, and reports whether
// the write outlasted slotHold (the slot is then given up at slotHold).
func (b *bound) writeInSlot(w io.Writer, chunk []byte) (slow bool, err error) {
	b.acquire(b.write)
	var once sync.Once
	release := func() { once.Do(b.write.release) }
	timer := time.AfterFunc(slotHold, release)
	start := time.Now()
	_, err = w.Write(chunk)
	timer.Stop()
	release()
	return time.Since(start) >= slotHold, err
}

// slots is a counting semaphore whose size may change while slots are
// held: a smaller size takes effect as holders release, a bigger one at
// once. Waiters are served in order.
type slots struct {
	mu      sync.Mutex
	size    int
	held    int
	waiting []chan struct{}
}

func newSlots(size int) *slots { return &slots{size: max(1, size)} }

// tryAcquire takes a slot if one is free.
func (s *slots) tryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held >= s.size || len(s.waiting) > 0 {
		return false
	}
	s.held++
	return true
}

// acquire takes a slot, waiting for one.
func (s *slots) acquire() {
	s.mu.Lock()
	if s.held < s.size && len(s.waiting) == 0 {
		s.held++
		s.mu.Unlock()
		return
	}
	ready := make(chan struct{})
	s.waiting = append(s.waiting, ready)
	s.mu.Unlock()
	<-ready // the slot was handed over: held already counts it
}

// release gives a slot back, to the first waiter if the size allows.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held--
	s.wakeLocked()
}

// resize makes the size n (at least one).
func (s *slots) resize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.size = max(1, n)
	s.wakeLocked()
}

// wakeLocked hands free slots to waiters.
func (s *slots) wakeLocked() {
	for s.held < s.size && len(s.waiting) > 0 {
		s.held++
		close(s.waiting[0])
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
	}
}

// state returns the size and the slots held (tests).
func (s *slots) state() (size, held int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size, s.held
}

// share sizes serving's slots from how late the checks start, additive
// increase and multiplicative decrease, as TCP sizes its window: every
// shareEvery it reads the lateness; above lateAbove the size halves (down
// to one slot), and after growAfter readings in a row under it the size
// grows by one (up to every CPU). Reading no more often than shareEvery
// lets a change of size show in the checks before the next one, and
// lateAbove is far above the jitter of an idle scheduler (a millisecond or
// two) and below what delays the checks for good. A decrease that follows
// an increase before as many readings as that increase waited for doubles
// the number of readings the next increase waits for (up to maxBackoff times growAfter), so that a size
// the checks cannot afford is not tried again every few readings; a long
// calm resets it.
//
// It runs on the requests' path (adjust, before a slot is taken) rather
// than on its own goroutine: it has nothing to do while no one is served.
type share struct {
	late     func() time.Duration // nil: the size stays at the floor
	now      func() time.Time
	min, max int
	sets     []*slots

	next atomic.Int64 // when to read the lateness again, in now's UnixNano

	mu     sync.Mutex
	size   int
	onTime int       // readings in a row under lateAbove
	wait   int       // readings on time before the next increase
	grown  time.Time // the last increase
}

const (
	shareEvery = 100 * time.Millisecond
	lateAbove  = 50 * time.Millisecond
	growAfter  = 3
	maxBackoff = 16
)

func newShare(late func() time.Duration, now func() time.Time, cpus int, sets ...*slots) *share {
	half := max(1, cpus/2)
	c := &share{late: late, now: now, min: 1, max: max(1, cpus), sets: sets, size: half, wait: growAfter}
	c.resize(half)
	return c
}

// adjust reads the lateness if shareEvery has passed since the last
// reading, and resizes the slots accordingly.
func (c *share) adjust() {
	if c.late == nil {
		return
	}
	now := c.now()
	next := c.next.Load()
	if now.UnixNano() < next || !c.next.CompareAndSwap(next, now.Add(shareEvery).UnixNano()) {
		return
	}
	late := c.late()
	c.mu.Lock()
	defer c.mu.Unlock()
	if late > lateAbove {
		c.onTime = 0
		if c.size > c.min {
			if now.Sub(c.grown) < time.Duration(c.wait)*shareEvery {
				c.wait = min(2*c.wait, maxBackoff*growAfter)
			}
			c.resize(max(c.min, c.size/2))
		}
		return
	}
	c.onTime++
	if c.onTime >= maxBackoff*growAfter {
		c.wait = growAfter // a long calm: the load has changed
	}
	if c.size < c.max && c.onTime >= c.wait {
		c.onTime = 0
		c.grown = now
		c.resize(c.size + 1)
	}
}

// resize sets every set of slots to n.
func (c *share) resize(n int) {
	c.size = n
	for _, s := range c.sets {
		s.resize(n)
	}
}

// current returns the size (tests).
func (c *share) current() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
