package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// tree returns a snapshot with a poll node of two replicas, a script node of
// one and a push node of one, the first `checked` poll/script replicas
// checked (the push replica never is).
func tree(version uint64, checked int) *status.Snapshot {
	at := func(i int) time.Time {
		if i < checked {
			return time.Unix(1, 0)
		}
		return time.Time{}
	}
	return &status.Snapshot{Version: version, Services: []status.Service{{ID: "s", Nodes: []status.Node{
		{ID: "poll", Mode: status.Poll, Replicas: []status.Replica{{ID: "a", Checked: at(0)}, {ID: "b", Checked: at(1)}}},
		{ID: "script", Mode: status.Script, Replicas: []status.Replica{{ID: "0", Checked: at(2)}}},
		{ID: "push", Mode: status.Push, Replicas: []status.Replica{{ID: "p"}}},
	}}}}
}

func TestFirstRound(t *testing.T) {
	var snap atomic.Pointer[status.Snapshot]
	snap.Store(tree(1, 0))
	r := New(Options{Ping: func(context.Context) error { return nil }, Snapshot: snap.Load})
	ctx := context.Background()

	err := r.Ready(ctx)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "first round of checks not done: 3 replicas not checked yet") {
		t.Fatalf("nothing checked: Ready = %v, want the first round's reason with 3 replicas (push not counted)", err)
	}
	snap.Store(tree(2, 2))
	if err := r.Ready(ctx); err == nil || !strings.Contains(err.Error(), "1 replicas not checked") {
		t.Fatalf("one script replica left: Ready = %v", err)
	}
	snap.Store(tree(3, 3))
	if err := r.Ready(ctx); err != nil {
		t.Fatalf("every poll and script replica checked, store answers: Ready = %v, want nil", err)
	}
	// Latched: a later snapshot with an unchecked replica (a node added
	// while serving) does not take a serving process out of rotation.
	snap.Store(tree(4, 0))
	if err := r.Ready(ctx); err != nil {
		t.Errorf("after the first round: Ready = %v, want nil", err)
	}
}

func TestNoSnapshotIsNotReady(t *testing.T) {
	r := New(Options{Ping: func(context.Context) error { return nil }, Snapshot: func() *status.Snapshot { return nil }})
	if err := r.Ready(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Errorf("Ready = %v, want not ready", err)
	}
}

func TestStoreDownIsNotReady(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1000, 0))
	var calls atomic.Int32
	down := errors.New("connection refused")
	var fail atomic.Bool
	fail.Store(true)
	r := New(Options{
		Ping: func(context.Context) error {
			calls.Add(1)
			if fail.Load() {
				return down
			}
			return nil
		},
		Snapshot: func() *status.Snapshot { return tree(1, 3) },
		Now:      clock.Now,
	})
	ctx := context.Background()
	err := r.Ready(ctx)
	if !errors.Is(err, ErrNotReady) || !errors.Is(err, down) || !strings.Contains(err.Error(), "store does not answer: connection refused") {
		t.Fatalf("store down: Ready = %v", err)
	}
	if strings.Contains(err.Error(), "first round") {
		t.Errorf("first round done, yet the reason names it: %v", err)
	}

	// Within CacheFor the answer is reused: one ping however many asks.
	fail.Store(false)
	for range 50 {
		if err := r.Ready(ctx); err == nil {
			t.Fatal("a cached failure turned into success without a new ping")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d pings for 51 asks within a second, want 1", n)
	}
	clock.Advance(DefaultCacheFor)
	if err := r.Ready(ctx); err != nil {
		t.Errorf("store back, cache expired: Ready = %v, want nil", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d pings, want 2", n)
	}
}

// TestHungStoreIsBounded: a ping that never returns by itself is cut at
// PingTimeout, and concurrent asks share that one ping rather than each
// starting its own.
func TestHungStoreIsBounded(t *testing.T) {
	var calls atomic.Int32
	r := New(Options{
		Ping: func(ctx context.Context) error {
			calls.Add(1)
			<-ctx.Done() // a database that accepted and never answers
			return ctx.Err()
		},
		Snapshot:    func() *status.Snapshot { return tree(1, 3) },
		PingTimeout: 200 * time.Millisecond,
		CacheFor:    time.Minute,
	})
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { errs[i] = r.Ready(context.Background()) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Ready still waiting 10 s after a ping timeout of 200 ms")
	}
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ask %d: Ready = %v, want the ping's deadline", i, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d pings for 20 concurrent asks, want 1", n)
	}
}

// TestAskerGoneIsNotCached: a ping cut short because the asker left says
// nothing about the store, so the next asker pings again.
func TestAskerGoneIsNotCached(t *testing.T) {
	var calls atomic.Int32
	r := New(Options{
		Ping: func(ctx context.Context) error {
			if calls.Add(1) == 1 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		},
		Snapshot: func() *status.Snapshot { return tree(1, 3) },
		CacheFor: time.Minute,
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Ready(ctx); err == nil {
		t.Fatal("a cancelled ask was answered ready")
	}
	if err := r.Ready(context.Background()); err != nil {
		t.Errorf("second ask: Ready = %v, want nil (the cancelled ping must not be cached)", err)
	}
}
