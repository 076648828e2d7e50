package web

import (
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/statuspage"
)

// A big document is rendered again only once renderSpacing times its
// render time has passed; meanwhile the previous rendition is served. A
// small one follows every change at once, however long it took.
func TestMemoSpacesBigRenders(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		cost   time.Duration
		spaced bool
	}{
		{"big", spacedAbove, 20 * time.Millisecond, true},
		{"small", spacedAbove - 1, 20 * time.Millisecond, false},
	} {
		clock := time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)
		m := memo[int]{bound: fixedBound(1), now: func() time.Time { return clock }}
		var input atomic.Int64
		load := func() int { return int(input.Load()) }
		same := func(a, b int) bool { return a == b }
		renders := 0
		render := func(k int) *rendition {
			renders++
			clock = clock.Add(tt.cost)
			body := make([]byte, tt.size)
			body[0] = byte('0' + k)
			return &rendition{contentType: "text/plain", body: body}
		}
		get := func() string { return string(m.get(load, same, render).body[:1]) }

		if got := get(); got != "0" {
			t.Fatalf("%s: first get = %q", tt.name, got)
		}
		input.Store(1)
		want := "1"
		if tt.spaced {
			want = "0"
		}
		if got := get(); got != want {
			t.Errorf("%s: get right after a change = %q, want %q", tt.name, got, want)
		}
		clock = clock.Add(renderSpacing * tt.cost)
		if got := get(); got != "1" {
			t.Errorf("%s: get %v after the render = %q, want the new state 1", tt.name, renderSpacing*tt.cost, got)
		}
		if want := 2; renders != want {
			t.Errorf("%s: %d renders, want %d", tt.name, renders, want)
		}
	}
}

// While every render slot is taken, a document that has a rendition serves
// it rather than rendering a new one; a document without one waits.
func TestMemoRenderSlots(t *testing.T) {
	shared := fixedBound(1)
	a, b := memo[int]{bound: shared}, memo[int]{bound: shared}
	same := func(x, y int) bool { return x == y }
	plain := func(k int) *rendition { return newRendition("text/plain", []byte(strconv.Itoa(k))) }
	var inputB atomic.Int64
	loadB := func() int { return int(inputB.Load()) }
	b.get(loadB, same, plain)
	inputB.Store(1)

	// a renders and holds the only slot until released.
	release, started := make(chan struct{}), make(chan struct{})
	done := make(chan *rendition)
	go func() {
		done <- a.get(func() int { return 7 }, same, func(k int) *rendition {
			close(started)
			<-release
			return plain(k)
		})
	}()
	<-started
	if got := string(b.get(loadB, same, plain).body); got != "0" {
		t.Errorf("b while a renders = %q, want its previous rendition 0", got)
	}
	// c has nothing to serve: it waits for the slot.
	c := memo[int]{bound: shared}
	waited := make(chan string)
	go func() { waited <- string(c.get(func() int { return 3 }, same, plain).body) }()
	select {
	case got := <-waited:
		t.Fatalf("c rendered %q while the slot was taken", got)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if got := string((<-done).body); got != "7" {
		t.Errorf("a = %q, want 7", got)
	}
	if got := <-waited; got != "3" {
		t.Errorf("c = %q, want 3", got)
	}
	if got := string(b.get(loadB, same, plain).body); got != "1" {
		t.Errorf("b once the slot is free = %q, want 1", got)
	}
}

// fixedBound is a bound of n render and n write slots that no lateness
// resizes.
func fixedBound(n int) *bound {
	return &bound{render: newSlots(n), write: newSlots(n), share: &share{}}
}

// collector is a writer that keeps what it is given, optionally stalling
// on its first write like a client that does not read.
type collector struct {
	buf   []byte
	stall chan struct{} // when set, the first write waits for it to close
	calls int
}

func (c *collector) Write(p []byte) (int, error) {
	c.calls++
	if c.stall != nil && c.calls == 1 {
		<-c.stall
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func TestWriteBoundedWritesEverything(t *testing.T) {
	for _, n := range []int{0, 1, spacedAbove - 1, spacedAbove, spacedAbove + 3*writeChunk + 17} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i * 7)
		}
		var c collector
		if err := fixedBound(1).writeBounded(&c, body); err != nil {
			t.Fatal(err)
		}
		if string(c.buf) != string(body) {
			t.Errorf("%d bytes: wrote %d bytes, not the same", n, len(c.buf))
		}
		want := 1 // a small body is one write
		if n >= spacedAbove {
			want = (n + writeChunk - 1) / writeChunk
		}
		if n > 0 && c.calls != want {
			t.Errorf("%d bytes: %d writes, want %d", n, c.calls, want)
		}
	}
}

// A client that does not read holds a write slot for slotHold at most:
// another body is written meanwhile.
func TestWriteBoundedSlowClient(t *testing.T) {
	b := fixedBound(1)

	body := make([]byte, spacedAbove+writeChunk)
	stalled := &collector{stall: make(chan struct{})}
	done := make(chan error)
	go func() { done <- b.writeBounded(stalled, body) }()
	for _, held := b.write.state(); held == 0; _, held = b.write.state() { // the stalled write holds the slot
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	var fast collector
	fastDone := make(chan error)
	go func() { fastDone <- b.writeBounded(&fast, body) }()
	select {
	case err := <-fastDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		close(stalled.stall)
		t.Fatal("a fast client waits for as long as a stalled one does not read")
	}
	if waited := time.Since(start); waited > 10*slotHold {
		t.Errorf("a fast client waited %v behind a stalled one, want about slotHold (%v)", waited, slotHold)
	}
	close(stalled.stall)
	if err := <-done; err != nil || len(stalled.buf) != len(body) {
		t.Errorf("the stalled client got %d bytes (%v), want %d", len(stalled.buf), err, len(body))
	}
	if _, held := b.write.state(); held != 0 {
		t.Errorf("%d write slots left taken", held)
	}
}

// Every memo of a Server renders within the server's bound, whatever field
// or map holds it: a document added without newMemo fails here.
func TestEveryMemoIsBounded(t *testing.T) {
	s := newTestServer(t, Options{}).site
	want := reflect.ValueOf(s.bound).Pointer()
	found := 0
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch typ := v.Type(); {
		case strings.HasPrefix(typ.String(), "*web.memo["):
			found++
			if v.IsNil() {
				t.Errorf("%s is nil: make it with newMemo", path)
			} else if got := v.Elem().FieldByName("bound").Pointer(); got != want {
				t.Errorf("%s does not share the server's bound: make it with newMemo(s.bound)", path)
			}
		case strings.HasPrefix(typ.String(), "web.memo["):
			found++
			t.Errorf("%s is a memo value: make it a pointer from newMemo(s.bound)", path)
		case typ.Kind() == reflect.Struct:
			for i := range typ.NumField() {
				walk(path+"."+typ.Field(i).Name, v.Field(i))
			}
		case typ.Kind() == reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(fmt.Sprintf("%s[%v]", path, it.Key()), it.Value())
			}
		}
	}
	walk("Server", reflect.ValueOf(s).Elem())
	if min := 4 + len(statuspage.Documents); found < min {
		t.Errorf("found %d memos in a Server, want at least %d: the walk misses some", found, min)
	}
}

// slots hold at most their size; a smaller size takes effect as holders
// release, a bigger one wakes waiters at once.
func TestSlotsResize(t *testing.T) {
	s := newSlots(2)
	if !s.tryAcquire() || !s.tryAcquire() {
		t.Fatal("two slots of two are not free")
	}
	if s.tryAcquire() {
		t.Fatal("a third slot of two was taken")
	}
	s.resize(1)
	s.release()
	if s.tryAcquire() {
		t.Fatal("a slot was taken while the one slot left is held")
	}
	got := make(chan struct{})
	go func() { s.acquire(); close(got) }()
	for waiting(s) == 0 {
		runtime.Gosched()
	}
	s.resize(2)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter was not woken when the size grew")
	}
	if size, held := s.state(); size != 2 || held != 2 {
		t.Errorf("size %d, held %d, want 2 and 2", size, held)
	}
	s.release()
	s.release()
	if _, held := s.state(); held != 0 {
		t.Errorf("%d held after every release, want 0", held)
	}
}

func waiting(s *slots) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// The share of the CPUs serving gets follows the checks' lateness: it grows
// by one slot after growAfter readings on time up to every CPU, halves when
// the checks are late down to one slot, waits twice as long before growing
// again after an increase the checks could not afford, and reads the
// lateness at most once per shareEvery.
func TestShareFollowsLateness(t *testing.T) {
	clock := time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)
	late, readings := time.Duration(0), 0
	render, write := newSlots(1), newSlots(1)
	c := newShare(func() time.Duration { readings++; return late }, func() time.Time { return clock }, 4, render, write)
	step := func(n int) int {
		for range n {
			c.adjust()
			c.adjust() // within shareEvery: not read again
			clock = clock.Add(shareEvery)
		}
		return c.current()
	}
	if got := c.current(); got != 2 {
		t.Fatalf("starts at %d slots of 4 CPUs, want half: 2", got)
	}
	if got := step(growAfter - 1); got != 2 {
		t.Errorf("after %d readings on time: %d slots, want still 2", growAfter-1, got)
	}
	if got := step(1); got != 3 {
		t.Errorf("after %d readings on time: %d slots, want 3", growAfter, got)
	}
	if got := step(growAfter); got != 4 {
		t.Errorf("after %d more: %d slots, want every CPU: 4", growAfter, got)
	}
	if got := step(10 * growAfter); got != 4 {
		t.Errorf("on time for long: %d slots, want at most the 4 CPUs", got)
	}
	if readings != 2*growAfter+10*growAfter {
		t.Errorf("the lateness was read %d times, want once per shareEvery: %d", readings, 12*growAfter)
	}
	if size, _ := write.state(); size != 4 {
		t.Errorf("the write slots are %d, want 4 like the share", size)
	}

	late = lateAbove + time.Millisecond
	if got := step(1); got != 2 {
		t.Errorf("checks late: %d slots, want half of 4: 2", got)
	}
	if got := step(5); got != 1 {
		t.Errorf("checks late for long: %d slots, want the floor: 1", got)
	}
	if size, _ := render.state(); size != 1 {
		t.Errorf("the render slots are %d, want 1 like the share", size)
	}

	// An increase the checks cannot afford: the next one waits twice as
	// long.
	late = lateAbove
	if got := step(growAfter); got != 2 {
		t.Fatalf("on time again (lateness at the threshold): %d slots, want 2", got)
	}
	late = time.Second
	if got := step(1); got != 1 {
		t.Fatalf("late right after growing: %d slots, want 1", got)
	}
	late = 0
	if got := step(2*growAfter - 1); got != 1 {
		t.Errorf("%d readings on time after a failed increase: %d slots, want still 1", 2*growAfter-1, got)
	}
	if got := step(1); got != 2 {
		t.Errorf("%d readings on time after a failed increase: %d slots, want 2", 2*growAfter, got)
	}
}

// Without a reading of the checks, serving keeps to half of the CPUs.
func TestBoundWithoutLatenessKeepsHalf(t *testing.T) {
	b := newBound(nil, time.Now)
	for range 10 {
		b.share.adjust()
	}
	if size, _ := b.write.state(); size != halfCPUs() {
		t.Errorf("%d write slots, want half of the CPUs: %d", size, halfCPUs())
	}
}
