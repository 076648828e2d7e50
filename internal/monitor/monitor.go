// Package monitor is Vigil's engine: it schedules the poll and script probes,
// keeps every replica's latest state, and publishes immutable snapshots of the
// whole tree for the web pages and the alerting.
package monitor

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/status"
)

// aggregateEvery is how often the tree is re-aggregated even when no probe
// reported a change: it refreshes latencies and the page's "refreshed" time,
// and expires silent push and local replicas. Vigil uses the same 10 s.
const aggregateEvery = 10 * time.Second

// minRepublish bounds how often a burst of status changes re-publishes the
// snapshot (and so re-renders the page): changes within this window are
// published together.
const minRepublish = 250 * time.Millisecond

// Monitor owns the state of every replica. Its methods are safe for
// concurrent use.
type Monitor struct {
	cfg       atomic.Pointer[config.Config] // swapped by Apply
	log       *slog.Logger
	now       func() time.Time
	published func(prev, cur *status.Snapshot)
	observed  func(status.Observation)
	poll      *scheduler
	script    *scheduler

	publishMu sync.Mutex // serialises publish, hook included
	mu        sync.Mutex
	services  []status.Service // the live tree; replicas of poll/script nodes never move
	general   status.Health
	version   uint64
	nodes     map[[2]string]nodeRef                  // (service id, node id) → node
	dynamic   map[nodeRef]map[string]*dynamicReplica // push and local replicas by id
	queues    map[nodeRef]*queueState                // last RabbitMQ check per push node
	nextDue   time.Time                              // when a push/local replica would next expire

	queueCheckers map[nodeRef]*queueChecker // replaced by Apply
	holds         map[nodeRef]hold          // poll and script nodes' thresholds; replaced by Apply
	tasks         map[replicaKey]*scheduled // every poll and script replica's probe task
	queueRequests chan queueRequest

	snap  atomic.Pointer[status.Snapshot]
	dirty chan struct{} // cap 1: something changed, publish soon
}

// Options configures a Monitor.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Now    func() time.Time // defaults to time.Now

	// Published, when set, is called by the aggregator with each new
	// snapshot and the one before it (history, alerts). It runs on the
	// aggregation path: it must return quickly and hand slow work (disk,
	// network) to its own goroutine.
	Published func(prev, cur *status.Snapshot)
	// Observed, when set, is called with every probe result of a poll or
	// script replica (samples for the history). Same rule: return quickly.
	Observed func(o status.Observation)
}

// New builds the replica tree and the probes from a validated config. Every
// replica starts healthy and unchecked, as in Vigil.
func New(o Options) *Monitor {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m := &Monitor{
		log:       o.Logger,
		now:       now,
		published: o.Published,
		observed:  o.Observed,
		dirty:     make(chan struct{}, 1),
		dynamic:   map[nodeRef]map[string]*dynamicReplica{},
		queues:    map[nodeRef]*queueState{},
		tasks:     map[replicaKey]*scheduled{},
	}
	m.cfg.Store(o.Config)
	met := o.Config.Metrics
	m.poll = newScheduler(met.PollParallelism, now)
	m.script = newScheduler(met.ScriptParallelism, now)

	t := m.build(o.Config)
	m.services, m.nodes, m.holds, m.queueCheckers = t.services, t.nodes, t.holds, t.queueCheckers
	// Reloads may add queue checks: the channel is not sized for these only.
	m.queueRequests = make(chan queueRequest, max(len(m.queueCheckers), 64))
	m.schedule(t.jobs, now())
	m.publish(time.Time{})
	return m
}

// tree is the replica tree and the probes a config describes, as New and
// Apply build them.
type tree struct {
	services      []status.Service // every replica unchecked; push and local nodes empty
	nodes         map[[2]string]nodeRef
	holds         map[nodeRef]hold
	queueCheckers map[nodeRef]*queueChecker
	jobs          []job // one per poll and script replica
}

// job is the probe task of one poll or script replica.
type job struct {
	key      replicaKey
	ref      replicaRef
	prober   probe.Prober
	interval time.Duration
	script   bool
}

// build makes the tree and probes of cfg without touching m's state.
func (m *Monitor) build(cfg *config.Config) tree {
	t := tree{nodes: map[[2]string]nodeRef{}, holds: map[nodeRef]hold{}, queueCheckers: map[nodeRef]*queueChecker{}}
	met := cfg.Metrics
	for si, svc := range cfg.Probe.Services {
		s := status.Service{ID: svc.ID, Label: svc.Label}
		for ni, node := range svc.Nodes {
			n := status.Node{
				ID:                node.ID,
				Label:             node.Label,
				Mode:              status.Mode(node.Mode),
				RevealReplicaName: node.RevealReplicaName,
				LinkURL:           node.LinkURL,
				LinkLabel:         node.LinkLabel,
			}
			ref := nodeRef{si, ni}
			t.nodes[[2]string{svc.ID, node.ID}] = ref
			checks := node.Checks(met)
			if !cfg.Cluster.Enabled {
				// In a cluster the thresholds count the decided results,
				// not one member's: the cluster holds them.
				t.holds[ref] = hold{failures: checks.FailureThreshold, successes: checks.SuccessThreshold}
			}
			if c := newQueueChecker(cfg, node); c != nil {
				t.queueCheckers[ref] = c
			}
			switch n.Mode {
			case status.Poll:
				for ri, target := range node.Targets {
					n.Replicas = append(n.Replicas, status.Replica{ID: target.ID})
					t.jobs = append(t.jobs, job{replicaKey{svc.ID, node.ID, target.ID, status.Poll}, replicaRef{si, ni, ri},
						m.pollProber(cfg, node, target), checks.PollInterval, false})
				}
			case status.Script:
				for ri, source := range node.Scripts {
					n.Replicas = append(n.Replicas, status.Replica{ID: scriptID(ri)})
					t.jobs = append(t.jobs, job{replicaKey{svc.ID, node.ID, scriptID(ri), status.Script}, replicaRef{si, ni, ri},
						m.scriptProber(cfg, source, checks.ScriptInterval), checks.ScriptInterval, true})
				}
			}
			s.Nodes = append(s.Nodes, n)
		}
		t.services = append(t.services, s)
	}
	return t
}

// schedule queues new jobs: each scheduler's replicas of one interval
// spread their first round over that interval from start. m.mu must be
// held, or m not yet shared.
func (m *Monitor) schedule(jobs []job, start time.Time) {
	type group struct {
		script   bool
		interval time.Duration
	}
	count := map[group]int{}
	for _, j := range jobs {
		count[group{j.script, j.interval}]++
	}
	position := map[group]int{}
	for _, j := range jobs {
		s := m.poll
		if j.script {
			s = m.script
		}
		g := group{j.script, j.interval}
		sl := &slot{ref: j.ref}
		t := s.add(m.checker(sl, j.prober), j.interval, position[g], count[g], start)
		m.tasks[j.key] = &scheduled{slot: sl, task: t, sched: s}
		position[g]++
	}
}

// Snapshot returns the latest published state. It never blocks.
func (m *Monitor) Snapshot() *status.Snapshot { return m.snap.Load() }

// Run probes and aggregates until ctx ends, and returns once every probe in
// flight has returned.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { m.poll.Run(ctx) })
	wg.Go(func() { m.script.Run(ctx) })
	wg.Go(func() { m.aggregate(ctx) })
	wg.Go(func() { m.checkQueues(ctx) })
	wg.Wait()
}

// replicaRef addresses a poll or script replica in the tree.
type replicaRef struct{ service, node, replica int }

// checker returns the task that probes one replica and records the result
// where its slot points.
func (m *Monitor) checker(sl *slot, p probe.Prober) func(context.Context) {
	return func(ctx context.Context) {
		res := p.Probe(ctx)
		if ctx.Err() != nil {
			return // shutting down: the result says nothing about the target
		}
		m.record(sl, res)
	}
}

// record stores a probe result, logs transitions and schedules a publish
// when the replica's health or reason changed. A result for a replica a
// reload removed meanwhile is dropped.
func (m *Monitor) record(sl *slot, res probe.Result) {
	now := m.now()
	m.mu.Lock()
	if sl.gone {
		m.mu.Unlock()
		return
	}
	ref := sl.ref
	svc := &m.services[ref.service]
	node := &svc.Nodes[ref.node]
	r := &node.Replicas[ref.replica]
	first := r.Checked.IsZero()
	shown, pending := res, status.Pending{}
	if !first {
		// A first result is taken as it is: there is no confirmed status
		// yet to hold against it (and holding a dead one back would pass
		// for a recovery after a restart during an outage).
		shown, pending = m.holds[nodeRef{ref.service, ref.node}].apply(r.Health, r.Reason, r.Pending, res)
	}
	changed := first || r.Health != shown.Health || r.Reason != shown.Reason || r.Pending != pending
	if first || r.Health != shown.Health {
		r.Since = now
	}
	prev := r.Health
	r.Health, r.Latency, r.HasLatency, r.Reason, r.Checked = shown.Health, res.Latency, true, shown.Reason, now
	r.Pending = pending
	id := status.DeadID(svc.ID, node.ID, r.ID)
	obs := status.Observation{Service: svc.ID, Node: node.ID, Replica: r.ID, At: now,
		Health: res.Health, Latency: res.Latency, Reason: res.Reason}
	m.mu.Unlock()

	if m.observed != nil {
		m.observed(obs)
	}
	m.log.Debug("probe result", "replica", id, "health", res.Health, "latency", res.Latency, "reason", res.Reason)
	if prev != shown.Health && !(first && shown.Health == status.Healthy) {
		m.log.Info("replica status changed", "replica", id, "from", prev, "to", shown.Health, "reason", shown.Reason)
	} else if pending.Count > 0 {
		m.log.Debug("replica status change held back", "replica", id, "status", prev, "pending", pending.String(), "reason", res.Reason)
	}
	if changed {
		m.markDirty()
	}
}

func (m *Monitor) markDirty() {
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

// aggregate publishes a new snapshot every aggregateEvery, and soon after
// any change.
func (m *Monitor) aggregate(ctx context.Context) {
	tick := time.NewTicker(aggregateEvery)
	defer tick.Stop()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		m.publish(m.now())
		// Wake up when a push or local replica would go dead, so that it
		// shows at once rather than at the next tick.
		m.mu.Lock()
		next := m.nextDue
		m.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(m.now()), 0) + time.Millisecond
		}
		expiry.Reset(wait)
		select {
		case <-ctx.Done():
			m.publishLast()
			return
		case <-tick.C:
		case <-expiry.C:
		case <-m.dirty:
			// Let a burst of changes land, then publish them together.
			select {
			case <-ctx.Done():
				m.publish(m.now()) // the burst woke us: it is not published yet
				return
			case <-time.After(minRepublish):
			}
		}
	}
}

// publishLast publishes what changed since the last snapshot, at a stop:
// a report acknowledged (or a replica flushed) just before it must reach
// the history, which is written after the monitor returns.
func (m *Monitor) publishLast() {
	select {
	case <-m.dirty:
		m.publish(m.now())
	default:
	}
}

// publish rolls the tree up and stores a copy as the new snapshot.
// A zero refreshed time means "not yet refreshed".
func (m *Monitor) publish(refreshed time.Time) {
	// One publish at a time, hook included: the aggregator and a reload
	// (Apply) both publish, and the history and the alerting must get the
	// snapshots in the order they were made.
	m.publishMu.Lock()
	defer m.publishMu.Unlock()
	m.mu.Lock()
	var changes []transition
	if !refreshed.IsZero() {
		m.nextDue, changes = m.refreshDynamic(refreshed)
	}
	services := cloneTree(m.services)
	health, dead := status.Rollup(services)
	prev := m.general
	m.general = health
	m.version++
	snap := &status.Snapshot{
		Version:   m.version,
		Health:    health,
		Refreshed: refreshed,
		Services:  services,
		Dead:      dead,
	}
	old := m.snap.Swap(snap)
	m.mu.Unlock()

	if m.published != nil && old != nil {
		m.published(old, snap)
	}
	for _, c := range changes {
		m.log.Info("replica status changed", "replica", c.replica, "from", c.from, "to", c.to, "reason", c.reason)
	}
	if health != prev {
		m.log.Info("general status changed", "from", prev, "to", health, "dead", dead)
	}
}

// cloneTree deep-copies the tree so a published snapshot never changes.
func cloneTree(services []status.Service) []status.Service {
	out := make([]status.Service, len(services))
	for si, svc := range services {
		out[si] = svc
		out[si].Nodes = make([]status.Node, len(svc.Nodes))
		for ni, node := range svc.Nodes {
			out[si].Nodes[ni] = node
			out[si].Nodes[ni].Replicas = append([]status.Replica(nil), node.Replicas...)
		}
	}
	return out
}
