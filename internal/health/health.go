// Package health decides whether Vigil is ready to take traffic, for
// load balancers and Kubernetes readiness probes (GET /readyz).
//
// Vigil is ready once every poll and script replica has been checked at
// least once and the store answers a ping. Before the first round a page
// would show every replica as healthy because none was looked at yet, and
// without the store the history, the manager API and durable alerts are
// missing: neither is a page worth sending people to.
//
// A probe may ask many times a second, from several load balancers: the
// answer is cheap. The first round is read from the monitor's snapshots,
// once per snapshot version until it is done, and never again after; the
// store is pinged at most once per CacheFor, bounded by PingTimeout, so a
// hung database costs one waiting ping, never one per request.
package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Defaults of Options.
const (
	// DefaultPingTimeout is shorter than any probe's timeout (Kubernetes
	// waits 1 s by default): a store slower than this is as good as down.
	DefaultPingTimeout = 800 * time.Millisecond
	// DefaultCacheFor is how long a ping's answer stands.
	DefaultCacheFor = time.Second
)

// Options configures a Readiness. Ping and Snapshot are required.
type Options struct {
	// Ping reaches the store (store.Store.Ping).
	Ping func(ctx context.Context) error
	// Snapshot returns the local monitor's latest state (monitor.Monitor's
	// Snapshot; in a cluster, this member's own probes, not the decided
	// status).
	Snapshot func() *status.Snapshot
	// PingTimeout bounds one ping; zero means DefaultPingTimeout.
	PingTimeout time.Duration
	// CacheFor is how long a ping's result is reused; zero means
	// DefaultCacheFor.
	CacheFor time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Readiness answers whether Vigil is ready. It is safe for concurrent use.
type Readiness struct {
	o Options

	firstRoundDone atomic.Bool // latched: a reload adding nodes does not unready a serving process
	roundMu        sync.Mutex
	seen           *status.Snapshot // the snapshot last counted while not done
	seenPending    int              // its replicas not checked yet

	pinging sync.Mutex // one ping at a time; the others wait for its answer
	mu      sync.Mutex
	pinged  time.Time // when the cached answer was taken; zero: never
	pingErr error
}

// New returns a Readiness.
func New(o Options) *Readiness {
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.CacheFor <= 0 {
		o.CacheFor = DefaultCacheFor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Readiness{o: o}
}

// ErrNotReady wraps every reason Ready gives.
var ErrNotReady = errors.New("not ready")

// Ready returns nil when Vigil is ready, and otherwise an error wrapping
// ErrNotReady that says why, in words for the operator reading a probe's
// output. Both conditions are reported when both fail.
func (r *Readiness) Ready(ctx context.Context) error {
	var reasons []error
	if n := r.unchecked(); n > 0 {
		reasons = append(reasons, fmt.Errorf("first round of checks not done: %d replicas not checked yet", n))
	}
	if err := r.ping(ctx); err != nil {
		reasons = append(reasons, fmt.Errorf("store does not answer: %w", err))
	}
	if len(reasons) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrNotReady, errors.Join(reasons...))
}

// unchecked returns how many poll and script replicas have never been
// checked; 0 once they all have been, ever since.
func (r *Readiness) unchecked() int {
	if r.firstRoundDone.Load() {
		return 0
	}
	snap := r.o.Snapshot()
	if snap == nil {
		return 1 // no snapshot yet: nothing was checked
	}
	r.roundMu.Lock()
	defer r.roundMu.Unlock()
	if r.seen != nil && r.seen.Version == snap.Version {
		return r.seenPending // counted already: snapshots never change
	}
	n := snap.Unchecked()
	if n == 0 {
		r.firstRoundDone.Store(true)
		return 0
	}
	r.seen, r.seenPending = snap, n
	return n
}

// ping returns the store's answer, taken at most CacheFor ago.
func (r *Readiness) ping(ctx context.Context) error {
	if ok, err := r.cached(); ok {
		return err
	}
	r.pinging.Lock()
	defer r.pinging.Unlock()
	if ok, err := r.cached(); ok {
		return err // answered while this request waited for the ping in flight
	}
	pctx, cancel := context.WithTimeout(ctx, r.o.PingTimeout)
	defer cancel()
	err := r.o.Ping(pctx)
	if err != nil && ctx.Err() != nil {
		return err // the asker went away: say nothing about the store
	}
	r.mu.Lock()
	r.pinged, r.pingErr = r.o.Now(), err
	r.mu.Unlock()
	return err
}

// cached returns the last ping's answer when it still stands.
func (r *Readiness) cached() (ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pinged.IsZero() || r.o.Now().Sub(r.pinged) >= r.o.CacheFor {
		return false, nil
	}
	return true, r.pingErr
}
