package web

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TestRunRefreshesStaleHistory: a page view that finds the history stale
// makes Run read it again (views themselves never read the store), and
// Run returns when its context ends, so that the daemon can close the
// store after it.
func TestRunRefreshesStaleHistory(t *testing.T) {
	st := &storeReads{Store: openStoreGap(t)}
	fillHistory(t, st.Store)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	ts := newTestServer(t, Options{Store: st, Now: clock})
	ts.src.Set(sampleServices(status.Healthy), testNow)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ts.site.Run(ctx) }()
	defer func() { cancel(); <-done }()

	st.history.Store(0)
	ts.get(t, "/") // fresh: nothing to read
	time.Sleep(50 * time.Millisecond)
	if n := st.history.Load(); n != 0 {
		t.Fatalf("a view of fresh history made %d store reads", n)
	}

	now.Add(int64(historyRefresh)) // the history is now stale
	ts.get(t, "/")
	deadline := time.Now().Add(10 * time.Second)
	for st.history.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh the stale history within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
