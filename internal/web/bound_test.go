package web

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
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
		m := memo[int]{slots: make(chan struct{}, 1), now: func() time.Time { return clock }}
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
	slots := make(chan struct{}, 1)
	a, b := memo[int]{slots: slots}, memo[int]{slots: slots}
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
	c := memo[int]{slots: slots}
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
		if err := writeBounded(&c, body); err != nil {
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
	saved := writeSlots
	writeSlots = make(chan struct{}, 1)
	t.Cleanup(func() { writeSlots = saved })

	body := make([]byte, spacedAbove+writeChunk)
	stalled := &collector{stall: make(chan struct{})}
	done := make(chan error)
	go func() { done <- writeBounded(stalled, body) }()
	for len(writeSlots) == 0 { // the stalled write holds the slot
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	var fast collector
	fastDone := make(chan error)
	go func() { fastDone <- writeBounded(&fast, body) }()
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
	if len(writeSlots) != 0 {
		t.Errorf("%d write slots left taken", len(writeSlots))
	}
}
