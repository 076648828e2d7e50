package web

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoServesPreviousWhileRendering: a request that arrives while
// another renders the new state gets the previous rendition at once; the
// rendering request, and every request after it, get the new one.
func TestMemoServesPreviousWhileRendering(t *testing.T) {
	var m memo[int]
	var input atomic.Int64
	input.Store(1)
	load := func() int { return int(input.Load()) }
	same := func(a, b int) bool { return a == b }
	release := make(chan struct{})
	renders := 0
	render := func(k int) *rendition {
		renders++
		if k == 2 {
			<-release
		}
		return newRendition("text/plain", []byte{byte('0' + k)})
	}

	if got := string(m.get(load, same, render).body); got != "1" {
		t.Fatalf("first get = %q, want 1", got)
	}
	input.Store(2)
	rendering := make(chan *rendition)
	go func() { rendering <- m.get(load, same, render) }()
	// Wait until the render holds the lock.
	for deadline := time.Now().Add(10 * time.Second); m.mu.TryLock(); {
		m.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the render never started")
		}
		time.Sleep(time.Millisecond)
	}
	if got := string(m.get(load, same, render).body); got != "1" {
		t.Errorf("get during the render = %q, want the previous rendition 1", got)
	}
	close(release)
	if got := string((<-rendering).body); got != "2" {
		t.Errorf("the rendering request got %q, want 2", got)
	}
	if got := string(m.get(load, same, render).body); got != "2" {
		t.Errorf("get after the render = %q, want 2", got)
	}
	if renders != 2 {
		t.Errorf("%d renders, want 2 (one per state)", renders)
	}
}
