// Package cluster runs several vigil processes as one: they share a
// PostgreSQL database, each probes every poll and script replica from its
// own vantage point and records what it saw, and one leader at a time
// decides each replica's status from the fresh observations of the live
// members. A status flips only when enough members agree, every member
// serves the decided status, and only the leader hands changes to the
// alerting, so an outage is alerted once however many members see it.
//
// Membership: each member upserts a heartbeat row every heartbeat interval;
// a member is live while its heartbeat is younger than the member timeout.
//
// Leadership: the leader is whoever holds a session advisory lock on its own
// dedicated connection, and it writes its decisions on that same
// connection. When the connection dies (the process was killed, the network
// or PostgreSQL went away) the lock goes with it, so no decision can be
// written by a member that is no longer the leader, and another member
// takes the lock at its next attempt.
// A connection that is black-holed rather than closed is bounded by the
// member timeout on both sides (lease.go): the cut-off leader stops by
// itself, and a candidate ends its backend once its heartbeat is stale.
//
// Decisions are durable (cluster_decided, with a version counter in
// cluster_state), so a new leader starts from what the previous one decided:
// it neither repeats a flip nor forgets one. Each flip is also recorded once
// in cluster_transitions, its version being the flip's idempotency key.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-go/vigil/internal/status"
)

// Source is the local monitor: its snapshot, and the receiver of the push
// and local reports replayed from the other members.
type Source interface {
	Snapshot() *status.Snapshot
	Report(serviceID, nodeID string, r status.Report) error
	Flush(serviceID, nodeID, replicaID string) error
}

// Options configures a Cluster.
type Options struct {
	URL           string // the PostgreSQL database every member shares
	NodeID        string // unique per member
	Label         string // vantage point shown to people; NodeID when empty
	Confirmations int    // 0: a majority of the live members
	Heartbeat     time.Duration
	MemberTimeout time.Duration
	// Fresh says for how long an observation of a node counts (it should
	// span a couple of the node's probe intervals plus a probe's timeout);
	// older observations are ignored by the decision.
	Fresh func(service, node string, mode status.Mode) time.Duration
	// Hold gives a node's thresholds (failure_threshold,
	// success_threshold) and check interval: a change the quorum decides
	// is applied once it has held for threshold-1 intervals, so that
	// "confirmations 2, failure_threshold 3" waits for three consecutive
	// quorum-decided results. nil: every change at once.
	Hold func(service, node string) (failures, successes int, interval time.Duration)
	// Tick is how often the leader decides and every member refreshes what
	// it serves; 250 ms when zero.
	Tick time.Duration
	// ReplayWindow is how far back a starting member replays the push and
	// local reports the others received; 10 minutes when zero.
	ReplayWindow time.Duration
	Local        Source
	Logger       *slog.Logger
}

// Member is a member as the JSON endpoint and the logs show it.
type Member struct {
	NodeID      string    `json:"node_id"`
	Label       string    `json:"label"`
	Live        bool      `json:"live"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	StartedAt   time.Time `json:"started_at"`
}

// Cluster is one member. Its methods are safe for concurrent use.
type Cluster struct {
	o    Options
	log  *slog.Logger
	pool *pgxpool.Pool

	pendingMu sync.Mutex
	pending   map[Key]status.Observation // observations not yet written
	reports   []reportRow                // reports not yet written
	wake      chan struct{}              // cap 1: something to write

	// written is what the writer last wrote of each replica; only the
	// writer goroutine touches it.
	written map[Key]writtenObs
	// writeModes is the mode of each node of the local tree, as of the
	// last read, for the writer's freshness windows.
	writeModes atomic.Pointer[map[[2]string]status.Mode]

	mirror mirror

	mu        sync.Mutex
	view      view // the last state read from the database
	served    *status.Snapshot
	servedFor uint64 // local snapshot version served is built from
	servedGen uint64 // view generation served is built from
	version   uint64

	leaderMu  sync.Mutex
	isLeader  bool
	lease     *lease // how long this member may still lead without news from the database
	onDecided []func(prev, cur *status.Snapshot)
	onLeading []func()
	handed    *handed // the last snapshot handed to onDecided; nil: none yet in this leadership

	// held is the leader's changes waiting for their node's thresholds, by
	// replica; only its deciding goroutine touches it.
	held map[Key]heldChange
	// decideAll: the next round decides every replica, not only those
	// whose observations changed (a new leadership); only the leading
	// goroutine touches it.
	decideAll bool
	// endRefused: the server refused to end a cut-off leader's backend, and
	// that was logged; only the leading goroutine touches it.
	endRefused bool
}

// view is the cluster's state as last read from the database.
type view struct {
	gen      uint64
	state    int64 // cluster_state.version when read
	leader   string
	members  []Member
	decided  map[Key]Decision
	observed map[Key][]Observation // fresh observations of live members
}

// New connects to the database and creates the cluster's tables if needed.
func New(ctx context.Context, o Options) (*Cluster, error) {
	if o.NodeID == "" {
		return nil, errors.New("cluster: empty node id")
	}
	if o.Label == "" {
		o.Label = o.NodeID
	}
	if o.Tick <= 0 {
		o.Tick = 250 * time.Millisecond
	}
	// The defaults of [cluster]: with a zero member timeout every exchange
	// with the database would time out at once, and no lease would hold.
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.MemberTimeout <= 0 {
		o.MemberTimeout = 15 * time.Second
	}
	if o.Fresh == nil {
		o.Fresh = func(string, string, status.Mode) time.Duration { return 3 * o.MemberTimeout }
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cfg.MaxConns = 4
	boundConnect(cfg.ConnConfig, o.MemberTimeout)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := ensureSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: create tables: %w", err)
	}
	c := &Cluster{
		o:       o,
		log:     o.Logger.With("member", o.NodeID),
		pool:    pool,
		pending: map[Key]status.Observation{},
		written: map[Key]writtenObs{},
		wake:    make(chan struct{}, 1),
		view:    view{decided: map[Key]Decision{}, observed: map[Key][]Observation{}},
		lease:   newLease(o.MemberTimeout),
	}
	return c, nil
}

// Close releases the database connections; call it after Run returned.
func (c *Cluster) Close() { c.pool.Close() }

// NodeID returns this member's id.
func (c *Cluster) NodeID() string { return c.o.NodeID }

// OnDecided registers f to receive the decided snapshots while this member
// leads: the alerting subscribes here instead of to the monitor, so that it
// fires on decided statuses, on one member only. Register before Run.
//
// f is called with each new decided snapshot and the one handed before it.
// In these snapshots Version is not the served one: it numbers the changes
// of the page's status and dead list across the whole cluster, durably, so
// the same change carries the same Version on whichever member hands it
// (after a failover a change may be handed twice, never under two numbers,
// and never lost). Key alerts by it. The first call after a member becomes
// leader has as prev the status handed last by any member (only its Version,
// Health and Dead are set): an outage that started during the failover is
// handed then, and one handed before is not handed again. Like the
// monitor's hooks, f must return quickly.
func (c *Cluster) OnDecided(f func(prev, cur *status.Snapshot)) {
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	c.onDecided = append(c.onDecided, f)
}

// OnLeading registers f to be called each time this member becomes the
// leader, before the first decided snapshot it hands. f must return quickly.
func (c *Cluster) OnLeading(f func()) {
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	c.onLeading = append(c.onLeading, f)
}

// IsLeader reports whether this member leads now: it holds the lock and
// its lease has not run out. The outbox asks it before each delivery, so a
// leader cut off from the database stops delivering when its lease ends,
// even while a round on its connection still hangs.
func (c *Cluster) IsLeader() bool {
	c.leaderMu.Lock()
	leading := c.isLeader
	c.leaderMu.Unlock()
	return leading && c.lease.valid(time.Now())
}

// Observe records a probe result of this member; it is the monitor's
// Observed hook and returns at once (a writer goroutine stores it).
func (c *Cluster) Observe(o status.Observation) {
	c.pendingMu.Lock()
	c.pending[Key{o.Service, o.Node, o.Replica}] = o
	c.pendingMu.Unlock()
	c.poke()
}

func (c *Cluster) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run takes part in the cluster until ctx ends.
func (c *Cluster) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.heartbeat(ctx) })
	wg.Go(func() { c.writer(ctx) })
	wg.Go(func() { c.refresher(ctx) })
	wg.Go(func() { c.replayer(ctx) })
	wg.Go(func() { c.lead(ctx) })
	wg.Wait()
	// Leave at once rather than after a member timeout, so a clean stop
	// does not count as a dead vantage point. Best effort.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.pool.Exec(sctx, `DELETE FROM cluster_members WHERE node_id = $1`, c.o.NodeID); err != nil {
		c.log.Warn("cluster: leave", "error", err)
	}
}

// heartbeat keeps this member's row fresh.
func (c *Cluster) heartbeat(ctx context.Context) {
	failing := false
	every(ctx, c.o.Heartbeat, func() {
		sent := time.Now()
		hctx, cancel := c.bounded(ctx)
		defer cancel()
		_, err := c.pool.Exec(hctx, `INSERT INTO cluster_members (node_id, label, started_ms, heartbeat_ms)
			VALUES ($1, $2, `+nowMS+`, `+nowMS+`)
			ON CONFLICT (node_id) DO UPDATE SET label = EXCLUDED.label, heartbeat_ms = EXCLUDED.heartbeat_ms`,
			c.o.NodeID, c.o.Label)
		if err != nil && ctx.Err() == nil {
			if !failing {
				c.log.Error("cluster: heartbeat failed; retrying", "error", err)
			}
			failing = true
			// The database may have been recreated empty.
			_ = ensureSchema(hctx, c.pool)
			return
		}
		if err == nil {
			c.lease.heartbeatWritten(sent)
		}
		if failing && err == nil {
			c.log.Info("cluster: heartbeat restored")
		}
		failing = false
	})
}

// writeEvery paces the writer: observations arriving meanwhile go into the
// same statement, so a member probing thousands of replicas writes a few
// statements a second, not one per probe.
const writeEvery = 100 * time.Millisecond

// writer stores this member's observations and received reports. What
// cannot be written stays pending (the latest observation per replica, every
// report) and is retried.
func (c *Cluster) writer(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-retry.C:
		}
		began := time.Now()
		wctx, cancel := c.bounded(ctx)
		err := c.flushPending(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && !failing {
			c.log.Error("cluster: cannot record observations; retrying", "error", err)
		}
		failing = err != nil
		sleep(ctx, writeEvery-time.Since(began))
	}
}

// writtenObs is what was last written of a replica.
type writtenObs struct {
	health status.Health
	reason string
	at     time.Time // the observation's time, on this member's clock
}

func (c *Cluster) flushPending(ctx context.Context) error {
	c.pendingMu.Lock()
	obs := c.pending
	reps := c.reports
	c.pending = map[Key]status.Observation{}
	c.reports = nil
	c.pendingMu.Unlock()
	if len(obs) == 0 && len(reps) == 0 {
		return nil
	}
	write := c.needsWrite(obs)
	err := c.writeBatch(ctx, write, reps)
	if err != nil {
		// Put back what failed, unless a newer observation arrived meanwhile.
		c.pendingMu.Lock()
		for k, o := range write {
			if _, newer := c.pending[k]; !newer {
				c.pending[k] = o
			}
		}
		c.reports = append(reps, c.reports...)
		c.pendingMu.Unlock()
		return err
	}
	for k, o := range write {
		c.written[k] = writtenObs{health: o.Health, reason: o.Reason, at: o.At}
	}
	return nil
}

// needsWrite keeps the observations the others must see: those whose
// health or reason changed since the last one written, and those that
// refresh an unchanged one written half a freshness window ago or more.
// The stored row then stays fresh while this member keeps probing (the
// window spans two probe intervals and a probe's longest run), at a
// fraction of the writes: one every other probe at short intervals, fewer
// when probes are frequent against the window. The latency column is
// refreshed with it.
func (c *Cluster) needsWrite(obs map[Key]status.Observation) map[Key]status.Observation {
	var modes map[[2]string]status.Mode
	if m := c.writeModes.Load(); m != nil {
		modes = *m
	}
	out := make(map[Key]status.Observation, len(obs))
	for k, o := range obs {
		w, ok := c.written[k]
		if ok && w.health == o.Health && w.reason == o.Reason {
			mode, known := modes[[2]string{k.Service, k.Node}]
			if !known {
				mode = status.Poll
			}
			if o.At.Sub(w.at) < c.o.Fresh(k.Service, k.Node, mode)/2 {
				continue
			}
		}
		out[k] = o
	}
	return out
}

// writeBatch writes the observations in one statement and the reports, in
// one transaction.
func (c *Cluster) writeBatch(ctx context.Context, obs map[Key]status.Observation, reps []reportRow) error {
	if len(obs) == 0 && len(reps) == 0 {
		return nil
	}
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	now := time.Now()
	if len(obs) > 0 {
		n := len(obs)
		services, nodes, replicas := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		healths, reasons := make([]string, 0, n), make([]string, 0, n)
		latencies, ages := make([]int64, 0, n), make([]int64, 0, n)
		for k, o := range obs {
			latency := int64(-1)
			if o.Latency > 0 || o.Health == status.Healthy {
				latency = o.Latency.Milliseconds()
			}
			services, nodes, replicas = append(services, k.Service), append(nodes, k.Node), append(replicas, k.Replica)
			healths, reasons = append(healths, o.Health.String()), append(reasons, o.Reason)
			// The observation's age on this member's clock, subtracted from
			// the database's clock.
			latencies, ages = append(latencies, latency), append(ages, max(now.Sub(o.At), 0).Milliseconds())
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_observations
			(member, service, node, replica, health, latency_ms, reason, observed_ms)
			SELECT $1, s, n, r, h, l, re, `+nowMS+` - a
			FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[]) AS o(s, n, r, h, l, re, a)
			ON CONFLICT (member, service, node, replica) DO UPDATE SET
			health = EXCLUDED.health, latency_ms = EXCLUDED.latency_ms,
			reason = EXCLUDED.reason, observed_ms = EXCLUDED.observed_ms`,
			c.o.NodeID, services, nodes, replicas, healths, latencies, reasons, ages); err != nil {
			return err
		}
	}
	for _, r := range reps {
		if err := r.insert(ctx, tx, c.o.NodeID, now); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// refresher reads the shared state every tick, so that every member serves
// the decided status.
func (c *Cluster) refresher(ctx context.Context) {
	failing := false
	every(ctx, c.o.Tick, func() {
		if c.IsLeader() {
			return // the leader installs what it reads and decides, every tick
		}
		rctx, cancel := c.bounded(ctx)
		c.mirror.mu.Lock()
		_, err := c.sync(rctx, c.pool, false)
		c.mirror.mu.Unlock()
		cancel()
		if err != nil {
			if ctx.Err() == nil && !failing {
				c.log.Error("cluster: cannot read the shared state; serving the last one read", "error", err)
			}
			failing = true
			return
		}
		if failing {
			c.log.Info("cluster: shared state readable again")
		}
		failing = false
	})
}

// modes maps each node of the local tree to its mode.
func (c *Cluster) modes() map[[2]string]status.Mode {
	m := map[[2]string]status.Mode{}
	for _, s := range c.o.Local.Snapshot().Services {
		for _, n := range s.Nodes {
			m[[2]string{s.ID, n.ID}] = n.Mode
		}
	}
	return m
}

// setMembers installs the leader and members just read, logging changes,
// and reports whether the served snapshot changes with them. The members
// are kept whatever they are, so that /status/cluster serves the heartbeat
// times just read. The caller holds c.mu.
func (c *Cluster) setMembers(state int64, leader string, members []Member) bool {
	if c.view.leader != leader {
		c.log.Info("cluster: leader", "leader", leader, "members", describeMembers(members))
	} else if describeMembers(c.view.members) != describeMembers(members) {
		c.log.Info("cluster: members changed", "leader", leader, "members", describeMembers(members))
	}
	changed := c.view.leader != leader || describeMembers(c.view.members) != describeMembers(members)
	c.view.state, c.view.leader, c.view.members = state, leader, members
	return changed
}

// Status is what the JSON endpoint serves.
type Status struct {
	NodeID  string   `json:"node_id"`
	Leader  string   `json:"leader"`
	Members []Member `json:"members"`
}

// Status returns the members and the leader as last read.
func (c *Cluster) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{NodeID: c.o.NodeID, Leader: c.view.leader, Members: append([]Member{}, c.view.members...)}
}

// Snapshot returns the local monitor's snapshot with the decided status of
// every poll and script replica, and how each vantage point sees it. Its
// Version grows whenever the local snapshot or the decided state changes.
func (c *Cluster) Snapshot() *status.Snapshot {
	local := c.o.Local.Snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.served != nil && c.servedFor == local.Version && c.servedGen == c.view.gen {
		return c.served
	}
	c.version++
	c.served = overlay(local, c.view, c.version)
	c.servedFor, c.servedGen = local.Version, c.view.gen
	return c.served
}

// overlay builds the served snapshot from the local one and the shared view.
func overlay(local *status.Snapshot, v view, version uint64) *status.Snapshot {
	snap := *local
	snap.Version = version
	snap.Services = make([]status.Service, len(local.Services))
	for si, svc := range local.Services {
		snap.Services[si] = svc
		snap.Services[si].Nodes = make([]status.Node, len(svc.Nodes))
		for ni, node := range svc.Nodes {
			n := node
			n.Replicas = append([]status.Replica(nil), node.Replicas...)
			if n.Mode == status.Poll || n.Mode == status.Script {
				for ri := range n.Replicas {
					applyDecision(&n.Replicas[ri], Key{svc.ID, node.ID, n.Replicas[ri].ID}, v)
				}
			}
			snap.Services[si].Nodes[ni] = n
		}
	}
	snap.Health, snap.Dead = status.Rollup(snap.Services)
	return &snap
}

// applyDecision replaces what this member saw of a replica by what the
// cluster decided. Until the leader decided anything about a replica it is
// healthy, as every replica is before its first check.
func applyDecision(r *status.Replica, k Key, v view) {
	d, ok := v.decided[k]
	if !ok {
		d = Decision{Health: status.Healthy}
	}
	r.Health, r.Reason = d.Health, d.Reason
	if d.SinceMS > 0 {
		r.Since = time.UnixMilli(d.SinceMS).UTC()
	}
	obs := v.observed[k]
	if len(obs) == 0 {
		r.Views = nil
		return
	}
	r.Views = make([]status.View, 0, len(obs))
	for _, o := range obs {
		r.Views = append(r.Views, status.View{Label: o.Label, Health: o.Health, Reason: o.Reason})
	}
	sort.Slice(r.Views, func(i, j int) bool { return r.Views[i].Label < r.Views[j].Label })
	// The page shows the reason of a replica that is not healthy: say which
	// vantage points see what, after the decided reason.
	if r.Health != status.Healthy {
		r.Reason = d.Reason + " (" + status.DescribeViews(r.Views) + ")"
	}
}

// every runs f now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
