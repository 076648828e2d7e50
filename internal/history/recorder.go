// Package history records what the monitor sees into the store: every status
// change of every replica, node, service and of the page, probe samples
// (rolled up by the store), push and local replicas with their last report,
// and an incident for each outage of a node. It also marks when vigil was
// running, so that downtime of vigil itself counts as "no data", and prunes
// old history.
//
// The monitor's hooks hand work over without blocking: Published and Observed
// append to an in-memory queue, and the recorder's own goroutine (Run)
// writes it in batches: status changes every second, samples folded into
// their minute and hour buckets every ten seconds (one row per replica and
// bucket, however many checks it holds). A database error keeps the batch in
// memory and retries it later.
package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// Store is what the recorder writes to; *store.Store implements it.
type Store interface {
	RecordChanges(ctx context.Context, changes ...store.Change) error
	LastChanges(ctx context.Context) ([]store.Change, error)
	AddBatch(ctx context.Context, batch *store.SampleBatch) error
	SaveReplica(ctx context.Context, r store.PushReplica) error
	DeleteReplica(ctx context.Context, service, node, replica string) error
	OpenIncident(ctx context.Context, in store.Incident) (store.Incident, error)
	ResolveIncident(ctx context.Context, id int64, t time.Time) error
	AddIncidentUpdate(ctx context.Context, id int64, u store.IncidentUpdate) (store.IncidentUpdate, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	MarkAlive(ctx context.Context, instance string, t time.Time) error
	Prune(ctx context.Context, now time.Time) (store.Pruned, error)
}

// Defaults of Options.
const (
	DefaultFlushEvery = time.Second
	// DefaultSampleFlushEvery is how often samples are written. Samples
	// only feed minute and hour buckets, and each write costs a row per
	// replica and bucket: writing every ten seconds instead of every
	// second divides that cost by ten, and a crash loses at most ten
	// seconds of checks (a stop loses none).
	DefaultSampleFlushEvery = 10 * time.Second
	DefaultAliveEvery       = 30 * time.Second // well inside store.DefaultAliveGap
	DefaultPruneEvery       = time.Hour
	DefaultMaxPending       = 1 << 20
	// maxRetryWait bounds the wait between two attempts after a database error.
	maxRetryWait = time.Minute
	// shutdownFlush bounds the last flush on shutdown.
	shutdownFlush = 10 * time.Second
	// flushTimeout bounds one flush: a database that hangs costs the
	// recorder this long, then it retries later with what it holds.
	flushTimeout = 20 * time.Second
	// maxMissedAlive bounds the heartbeats kept while the database fails:
	// with the default period, over three days.
	maxMissedAlive = 10000
)

// Options configures a Recorder.
type Options struct {
	Store    Store
	Logger   *slog.Logger
	Instance string           // this vigil's name in the running intervals (MarkAlive)
	Now      func() time.Time // defaults to time.Now

	// Replicas are the push and local replicas stored at start, so that the
	// recorder neither saves them again unchanged nor forgets to delete the
	// ones that are gone.
	Replicas []store.PushReplica

	FlushEvery       time.Duration // how often changes, incidents and replicas are written; default 1 s
	SampleFlushEvery time.Duration // how often samples are written; default 10 s
	AliveEvery       time.Duration // MarkAlive period; default 30 s
	PruneEvery       time.Duration // Prune period; default 1 h
	// MaxPending bounds the changes, and separately the minute buckets of
	// samples, kept in memory while the database fails; beyond it the
	// oldest are dropped with an error log (dropped minute buckets stay
	// counted in their hour). Default 1,048,576: with 5000 replicas, over
	// three hours of samples.
	MaxPending int
}

// Recorder turns the monitor's snapshots and probe results into history.
type Recorder struct {
	st          Store
	log         *slog.Logger
	name        string
	now         func() time.Time
	every       time.Duration
	sampleEvery time.Duration // samples
	alive       time.Duration
	prune       time.Duration
	limit       int

	// The intake: filled by the hooks, emptied by Run.
	mu      sync.Mutex
	snaps   []*status.Snapshot
	samples []store.Sample
	wake    chan struct{} // cap 1

	// Everything below belongs to Run's goroutine (or to New before it).
	known     map[entity]status.Health // last recorded status of everything
	saved     map[replicaKey]time.Time // push/local replicas as stored: last report
	incidents map[string]*incidentRef  // open auto incident by "service:node"

	pending  pending
	failures int       // consecutive failed flushes
	retryAt  time.Time // no flush before this after a failure
	// missedAlive are the heartbeats the database did not take, oldest
	// first: written when it answers again, so that vigil running through
	// a database outage does not show as "no data".
	missedAlive []time.Time
}

// pending is the work not yet written.
type pending struct {
	changes  []store.Change
	samples  store.SampleBatch
	saves    map[replicaKey]store.PushReplica
	deletes  map[replicaKey]bool
	incident []incidentOp
	dropped  int // changes dropped over the cap, not yet logged
}

// empty tells whether nothing waits to be written, samples aside unless
// withSamples.
func (p *pending) empty(withSamples bool) bool {
	return len(p.changes) == 0 && (!withSamples || p.samples.Empty()) && len(p.saves) == 0 &&
		len(p.deletes) == 0 && len(p.incident) == 0
}

// entity names a replica, node, service or the page in the changes table.
type entity struct {
	level                  store.Level
	service, node, replica string
}

type replicaKey struct{ service, node, replica string }

// New builds a recorder that resumes from what the store holds: the last
// recorded status of everything (so that a restart records no spurious
// change) and the open automatic incidents (so that an outage that spans a
// restart stays one incident).
func New(ctx context.Context, o Options) (*Recorder, error) {
	r := &Recorder{
		st:          o.Store,
		log:         o.Logger,
		name:        o.Instance,
		now:         o.Now,
		every:       o.FlushEvery,
		sampleEvery: o.SampleFlushEvery,
		alive:       o.AliveEvery,
		prune:       o.PruneEvery,
		limit:       o.MaxPending,
		wake:        make(chan struct{}, 1),
		known:       map[entity]status.Health{},
		saved:       map[replicaKey]time.Time{},
		incidents:   map[string]*incidentRef{},
		pending:     pending{saves: map[replicaKey]store.PushReplica{}, deletes: map[replicaKey]bool{}},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.name == "" {
		r.name = "vigil"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.every, DefaultFlushEvery)
	def(&r.sampleEvery, DefaultSampleFlushEvery)
	def(&r.alive, DefaultAliveEvery)
	def(&r.prune, DefaultPruneEvery)
	if r.limit <= 0 {
		r.limit = DefaultMaxPending
	}

	last, err := o.Store.LastChanges(ctx)
	if err != nil {
		return nil, fmt.Errorf("history: resume statuses: %w", err)
	}
	for _, c := range last {
		r.known[entity{c.Level, c.Service, c.Node, c.Replica}] = c.To
	}
	open, err := o.Store.Incidents(ctx, store.IncidentFilter{OpenOnly: true})
	if err != nil {
		return nil, fmt.Errorf("history: resume incidents: %w", err)
	}
	// Most recently opened first: keep the oldest open incident of a node,
	// the one that tells when the outage began.
	for _, in := range open {
		if in.Auto && len(in.Nodes) == 1 {
			r.incidents[in.Nodes[0]] = &incidentRef{id: in.ID, opened: in.Opened}
		}
	}
	for _, p := range o.Replicas {
		r.saved[replicaKey{p.Service, p.Node, p.Replica}] = p.LastReport
	}
	return r, nil
}

// Published queues a new snapshot. It never blocks. prev is not needed: the
// recorder compares with what it last recorded, which survives restarts.
func (r *Recorder) Published(prev, cur *status.Snapshot) {
	r.mu.Lock()
	r.snaps = append(r.snaps, cur)
	r.mu.Unlock()
	r.signal()
}

// Observed queues a probe result as a sample. It never blocks, and does not
// wake Run: samples wait for the next flush tick anyway.
func (r *Recorder) Observed(o status.Observation) {
	s := store.Sample{
		Time:       o.At,
		Service:    o.Service,
		Node:       o.Node,
		Replica:    o.Replica,
		Health:     o.Health,
		Latency:    max(o.Latency, 0),
		HasLatency: true,
	}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

func (r *Recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run writes queued work until ctx ends, then writes what is left and
// returns. It also marks vigil alive every AliveEvery and prunes old history
// at start and every PruneEvery.
func (r *Recorder) Run(ctx context.Context) {
	r.markAlive(ctx)
	r.pruneNow(ctx)
	flush := time.NewTicker(r.every)
	defer flush.Stop()
	flushSamples := time.NewTicker(r.sampleEvery)
	defer flushSamples.Stop()
	alive := time.NewTicker(r.alive)
	defer alive.Stop()
	prune := time.NewTicker(r.prune)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			r.shutdown()
			return
		case <-r.wake:
			r.take()
		case <-flush.C:
			r.take()
			r.flush(ctx, false)
		case <-flushSamples.C:
			r.take()
			r.flush(ctx, true)
		case <-alive.C:
			r.markAlive(ctx)
		case <-prune.C:
			r.pruneNow(ctx)
		}
	}
}

// shutdown writes everything still queued, ignoring the retry delay, within
// shutdownFlush, and marks vigil alive one last time.
func (r *Recorder) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownFlush)
	defer cancel()
	r.take()
	r.retryAt = time.Time{}
	r.flush(ctx, true)
	if !r.pending.empty(true) {
		r.log.Error("history: unwritten at shutdown", "changes", len(r.pending.changes),
			"samples", r.pending.samples.Samples(), "replicas", len(r.pending.saves)+len(r.pending.deletes),
			"incident_updates", len(r.pending.incident))
	}
	r.markAlive(ctx)
}

// take moves the intake into the pending work, diffing each snapshot.
func (r *Recorder) take() {
	r.mu.Lock()
	snaps, samples := r.snaps, r.samples
	r.snaps, r.samples = nil, nil
	r.mu.Unlock()
	for _, s := range snaps {
		r.diff(s)
	}
	rejected := 0
	for _, x := range samples {
		if err := r.pending.samples.Add(x); err != nil {
			if rejected == 0 {
				r.log.Error("history: sample rejected", "error", err)
			}
			rejected++
		}
	}
	if rejected > 1 {
		r.log.Error("history: samples rejected", "samples", rejected)
	}
	r.bound()
}

// bound drops the oldest changes and minute buckets beyond the cap. It only
// bites when the database has failed for a long time.
func (r *Recorder) bound() {
	if r.pending.samples.Buckets() > r.limit {
		n := r.pending.samples.DropOldestMinutes(r.limit)
		r.log.Error("history: the database has failed too long; oldest minute buckets dropped, their hours kept",
			"samples", n, "kept_buckets", r.limit)
	}
	if over := len(r.pending.changes) - r.limit; over > 0 {
		r.pending.changes = append(r.pending.changes[:0:0], r.pending.changes[over:]...)
		r.pending.dropped += over
	}
	if r.pending.dropped > 0 {
		r.log.Error("history: the database has failed too long; oldest history dropped",
			"dropped", r.pending.dropped, "kept", r.limit)
		r.pending.dropped = 0
	}
}

// flush writes the pending work, samples only when withSamples. Each kind of
// work is written on its own, so that one failing write does not hold the
// others back; what fails stays pending and is retried after a growing delay.
func (r *Recorder) flush(ctx context.Context, withSamples bool) {
	if r.pending.empty(withSamples) || r.now().Before(r.retryAt) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	p := &r.pending
	var errs []error
	if len(p.changes) > 0 {
		retry, err := isolate(p.changes, splitChanges,
			func(c []store.Change) error { return r.st.RecordChanges(ctx, c...) },
			func(c []store.Change, err error) {
				r.log.Error("history: status change refused by the store; dropped", "error", err, "change", fmt.Sprintf("%+v", c[0]))
			})
		p.changes = slices.Concat(retry...)
		errs = append(errs, err)
	}
	if withSamples && !p.samples.Empty() {
		batch := p.samples
		retry, err := isolate(&batch, (*store.SampleBatch).Split,
			func(b *store.SampleBatch) error { return r.st.AddBatch(ctx, b) },
			func(b *store.SampleBatch, err error) {
				r.log.Error("history: samples of a replica refused by the store; dropped", "error", err, "samples", b.Samples())
			})
		p.samples = store.SampleBatch{}
		for _, b := range retry {
			p.samples.Merge(b)
		}
		errs = append(errs, err)
	}
	errs = append(errs, r.flushIncidents(ctx))
	errs = append(errs, r.flushReplicas(ctx))
	err := errors.Join(errs...)
	if err == nil {
		if r.failures > 0 {
			r.log.Info("history: the database accepts writes again", "after_failures", r.failures)
		}
		r.failures, r.retryAt = 0, time.Time{}
		return
	}
	r.failures++
	wait := min(r.every<<min(r.failures, 10), maxRetryWait)
	r.retryAt = r.now().Add(wait)
	r.log.Error("history: write failed; kept in memory and retried", "error", err,
		"retry_in", wait, "changes", len(p.changes), "samples", p.samples.Samples())
}

// isolate writes a batch of rows. When the store refuses it for what it
// holds (ErrInvalid: a value it cannot store; retrying would fail forever),
// isolate splits it and writes each part, down to the single rows the store
// refuses, which it hands to drop: one bad row never holds back the others,
// and costs O(log n) writes to find. It returns the parts that failed for
// another reason, in order, to retry later (the first such failure keeps
// everything after it: retrying keeps the order), and that error.
func isolate[B any](batch B, split func(B) (B, B, bool), write func(B) error, drop func(B, error)) (retry []B, err error) {
	err = write(batch)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, store.ErrInvalid) {
		return []B{batch}, err
	}
	first, second, ok := split(batch)
	if !ok {
		drop(batch, err)
		return nil, nil
	}
	retry, err = isolate(first, split, write, drop)
	if err != nil {
		return append(retry, second), err
	}
	return isolate(second, split, write, drop)
}

// splitChanges halves a batch of changes, for isolate.
func splitChanges(c []store.Change) (first, second []store.Change, ok bool) {
	if len(c) < 2 {
		return nil, nil, false
	}
	return c[:len(c)/2], c[len(c)/2:], true
}

func (r *Recorder) flushReplicas(ctx context.Context) error {
	p := &r.pending
	var errs []error
	for k := range p.deletes {
		err := r.st.DeleteReplica(ctx, k.service, k.node, k.replica)
		if errors.Is(err, store.ErrInvalid) {
			r.log.Error("history: replica not deleted", "error", err)
			err = nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		delete(p.deletes, k)
	}
	for k, rep := range p.saves {
		if err := r.st.SaveReplica(ctx, rep); err != nil {
			if errors.Is(err, store.ErrInvalid) {
				r.log.Error("history: replica not saved", "error", err)
				delete(p.saves, k)
				continue
			}
			errs = append(errs, err)
			continue
		}
		delete(p.saves, k)
	}
	return errors.Join(errs...)
}

// markAlive records that vigil runs now, after the heartbeats the database
// missed; what it does not take is kept for the next call.
func (r *Recorder) markAlive(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, flushTimeout)
	defer cancel()
	r.missedAlive = append(r.missedAlive, r.now())
	if over := len(r.missedAlive) - maxMissedAlive; over > 0 {
		r.missedAlive = r.missedAlive[over:] // the oldest: that time shows as "no data"
	}
	for i, t := range r.missedAlive {
		if err := r.st.MarkAlive(ctx, r.name, t); err != nil {
			r.missedAlive = r.missedAlive[i:]
			if parent.Err() == nil {
				r.log.Error("history: mark alive; kept and retried", "error", err, "kept", len(r.missedAlive))
			}
			return
		}
	}
	r.missedAlive = r.missedAlive[:0]
}

func (r *Recorder) pruneNow(ctx context.Context) {
	p, err := r.st.Prune(ctx, r.now())
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("history: prune", "error", err)
		}
		return
	}
	r.log.Info("history: pruned old records", "minute_buckets", p.Minutes, "hour_buckets", p.Hours,
		"day_buckets", p.Days, "changes", p.Changes, "running", p.Running, "incidents", p.Incidents,
		"maintenance", p.Maintenance, "outbox", p.Outbox)
}
