package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-go/vigil/internal/status"
)

// lead competes for leadership and, while this member holds it, decides.
// It retries every heartbeat interval: after the leader dies, the next
// member to try takes over within about one interval of the database
// noticing the dead connection, or of the leader's heartbeat going stale
// (see lease.go).
func (c *Cluster) lead(ctx context.Context) {
	failing := false
	for ctx.Err() == nil {
		if !c.lease.heartbeatFresh(time.Now()) {
			// The others do not see this member as live (or will not for
			// long): it may not lead, and the database is likely out of
			// reach anyway. Wait for the next heartbeat written.
			select {
			case <-ctx.Done():
			case <-c.lease.written:
			case <-time.After(c.o.Heartbeat):
			}
			continue
		}
		conn, err := c.connectForLock(ctx)
		if err != nil {
			if ctx.Err() == nil && !failing {
				c.log.Error("cluster: cannot connect for leadership; retrying", "error", err)
			}
			failing = true
			sleep(ctx, c.o.Heartbeat)
			continue
		}
		failing = false
		c.campaign(ctx, conn)
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}
}

// connectForLock opens and prepares a connection to compete for the lock on.
func (c *Cluster) connectForLock(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.o.URL)
	if err != nil {
		return nil, err
	}
	boundConnect(cfg, c.o.MemberTimeout)
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := prepareLockConn(cctx, conn, c.o.NodeID, c.o.MemberTimeout); err != nil {
		conn.Close(cctx)
		return nil, err
	}
	return conn, nil
}

// tryLock makes one attempt at the leader lock on conn. When another
// member holds it but has been cut off from the database for longer than
// the member timeout, it ends that member's backend first.
func (c *Cluster) tryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	lctx, cancel := c.bounded(ctx)
	defer cancel()
	var got bool
	try := func() error { return conn.QueryRow(lctx, `SELECT pg_try_advisory_lock($1)`, leaderLock).Scan(&got) }
	if err := try(); err != nil || got {
		return got, err
	}
	ended, err := endStaleHolder(lctx, conn, c.o.MemberTimeout)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) {
		// The server refused (members under different roles without
		// pg_signal_backend): the connection is fine, and the cut-off
		// leader's backend goes when the server's own timeouts drop it.
		if !c.endRefused {
			c.log.Error("cluster: cannot end the lock connection of a leader cut off from the database; waiting for the server to drop it", "error", err)
		}
		c.endRefused = true
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.endRefused = false
	if len(ended) == 0 {
		return false, nil
	}
	c.log.Warn("cluster: ended the lock connection of a leader cut off from the database", "leader", strings.Join(ended, ", "))
	// The lock goes as the backend exits, a moment later.
	for range 20 {
		if !sleep(lctx, 50*time.Millisecond) {
			break
		}
		if err := try(); err != nil || got {
			return got, err
		}
	}
	return false, nil
}

// campaign tries for the lock on conn until it gets it, then leads until
// conn fails, the lease runs out or ctx ends. It returns when conn should
// be dropped.
func (c *Cluster) campaign(ctx context.Context, conn *pgx.Conn) {
	var began time.Time
	for {
		if !c.lease.heartbeatFresh(time.Now()) {
			return
		}
		began = time.Now()
		got, err := c.tryLock(ctx, conn)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("cluster: leadership attempt failed; reconnecting", "error", err)
			}
			return
		}
		if got {
			break
		}
		if !sleep(ctx, c.o.Heartbeat) {
			return
		}
	}
	c.lease.lockAnswered(began)
	c.setLeader(true)
	defer func() {
		c.setLeader(false)
		c.lease.released()
	}()
	// Every exchange of the leadership ends when the lease does.
	leased := func() (context.Context, context.CancelFunc) { return context.WithDeadline(ctx, c.lease.expiry()) }
	lctx, cancel := leased()
	_, err := conn.Exec(lctx, `UPDATE cluster_state SET leader = $1, leader_since_ms = `+nowMS+` WHERE id = 1`, c.o.NodeID)
	cancel()
	if err != nil {
		c.log.Warn("cluster: lost the database as it became leader", "error", err)
		return
	}
	c.log.Info("cluster: this member leads now")
	lastPrune := time.Time{}
	t := time.NewTicker(c.o.Tick)
	defer t.Stop()
	for {
		began := time.Now()
		if !c.lease.valid(began) {
			c.stepDown()
			return
		}
		lctx, cancel := leased()
		err := c.round(lctx, conn, &lastPrune)
		cancel()
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case lctx.Err() != nil || !c.lease.valid(time.Now()):
				c.stepDown()
			default:
				c.log.Error("cluster: leadership lost", "error", err)
			}
			return
		}
		c.lease.lockAnswered(began)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round is one round of the leader: decide, hand the decided status off,
// and prune now and then.
func (c *Cluster) round(ctx context.Context, conn *pgx.Conn, lastPrune *time.Time) error {
	if err := c.decideRound(ctx, conn); err != nil {
		return fmt.Errorf("the database connection failed: %w", err)
	}
	if !c.lease.valid(time.Now()) {
		// Decided, but too late to hand off: the others may lead already.
		return errors.New("the lease ran out")
	}
	if err := c.handOff(ctx, conn); err != nil {
		return fmt.Errorf("cannot record the hand-off: %w", err)
	}
	if time.Since(*lastPrune) > time.Minute {
		*lastPrune = time.Now()
		c.prune(ctx, conn)
	}
	return nil
}

// stepDown logs why a leader stops: the database did not answer within
// the member timeout, so the others will soon see it as down and take over.
func (c *Cluster) stepDown() {
	c.log.Error("cluster: stepping down: the database has not answered within member_timeout; another member takes over",
		"member_timeout", c.o.MemberTimeout)
}

func (c *Cluster) setLeader(on bool) {
	c.leaderMu.Lock()
	c.isLeader = on
	c.handed = nil
	c.held = nil // a new leadership counts afresh
	c.decideAll = on
	var leading []func()
	if on {
		leading = c.onLeading
	}
	c.leaderMu.Unlock()
	for _, f := range leading {
		f()
	}
	if !on {
		c.log.Info("cluster: this member no longer leads")
	}
}

// heldChange is a decided change waiting for its node's thresholds: the
// quorum has said health (or a status on the same side of healthy) since
// sinceMS.
type heldChange struct {
	health  status.Health
	sinceMS int64
}

// heldEnough reports whether the change of k to h, which the quorum decides
// at now, has held long enough for the node's thresholds.
func (c *Cluster) heldEnough(k Key, h status.Health, now int64) bool {
	if c.o.Hold == nil {
		return true
	}
	failures, successes, interval := c.o.Hold(k.Service, k.Node)
	need := failures
	if h == status.Healthy {
		need = successes
	}
	if need <= 1 {
		return true
	}
	if c.held == nil {
		c.held = map[Key]heldChange{}
	}
	st, ok := c.held[k]
	if !ok || (st.health == status.Healthy) != (h == status.Healthy) {
		st = heldChange{health: h, sinceMS: now}
		c.held[k] = st
	}
	return now-st.sinceMS >= int64(need-1)*interval.Milliseconds()
}

// decideRound reads what changed and writes the decisions that change, in
// one transaction on the leader's connection: if that connection lost the
// lock, it is dead too, so nothing is written by a former leader. Only the
// replicas whose fresh observations may have changed are decided again
// (new or rewritten rows, observations gone stale, members gone or back),
// with those whose change waits for its thresholds, and every replica in
// the first round of a leadership.
func (c *Cluster) decideRound(ctx context.Context, conn *pgx.Conn) error {
	c.mirror.mu.Lock()
	defer c.mirror.mu.Unlock()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	read, err := c.sync(ctx, tx, true)
	if err != nil {
		return err
	}
	version, now := read.state, read.now
	// Only this goroutine writes the view's maps (under c.mu, for the
	// readers of the served snapshot): it may read them without the lock.
	candidates := read.dirty
	if c.decideAll {
		for k := range c.view.observed {
			candidates[k] = struct{}{}
		}
	}
	for k := range c.held {
		candidates[k] = struct{}{}
	}
	keys := slices.SortedFunc(maps.Keys(candidates), func(a, b Key) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Node, b.Node), strings.Compare(a.Replica, b.Replica))
	})
	need := required(c.o.Confirmations, read.live)
	batch := &pgx.Batch{}
	decided := map[Key]Decision{}
	for _, k := range keys {
		obs := c.view.observed[k]
		if len(obs) == 0 {
			continue // nothing fresh: the decided status stays
		}
		cur := c.view.decided[k]
		h, reason, changed := decide(cur.Health, obs, need)
		if !changed {
			delete(c.held, k)
			continue
		}
		if !c.heldEnough(k, h, now) {
			continue
		}
		delete(c.held, k)
		version++
		batch.Queue(`INSERT INTO cluster_decided (service, node, replica, health, reason, since_ms, decided_ms, version)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
			ON CONFLICT (service, node, replica) DO UPDATE SET health = EXCLUDED.health, reason = EXCLUDED.reason,
			since_ms = EXCLUDED.since_ms, decided_ms = EXCLUDED.decided_ms, version = EXCLUDED.version`,
			k.Service, k.Node, k.Replica, h.String(), reason, now, version)
		batch.Queue(`INSERT INTO cluster_transitions (version, service, node, replica, from_health, to_health, reason, at_ms, decided_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			version, k.Service, k.Node, k.Replica, cur.Health.String(), h.String(), reason, now, c.o.NodeID)
		decided[k] = Decision{Health: h, Reason: reason, SinceMS: now, Version: version}
		c.log.Info("cluster: replica status decided", "replica", status.DeadID(k.Service, k.Node, k.Replica),
			"from", cur.Health, "to", h, "reason", reason, "confirmations", need, "live", read.live, "version", version)
	}
	batch.Queue(`UPDATE cluster_state SET version = $1, leader = $2 WHERE id = 1`, version, c.o.NodeID)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	c.decideAll = false
	// Serve (and hand off) what was just decided without waiting for the
	// next read.
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.setMembers(version, c.o.NodeID, c.view.members)
	for k, d := range decided {
		c.view.decided[k] = d
	}
	if changed || len(decided) > 0 {
		c.view.gen++
	}
	return nil
}

// handOff gives the decided snapshot to the OnDecided consumers when it
// changed since the last hand-off, and records in the shared store each
// change of the page's status or dead list, numbered: the number is the
// Version of the snapshot handed over, the same on whichever member hands
// it. The consumers run before the record is written, so a leader that dies
// in between leaves the change to its successor, which hands it again under
// the same number: a consumer keying its alerts by Version (the outbox's
// idempotency key) sends each one once.
func (c *Cluster) handOff(ctx context.Context, conn *pgx.Conn) error {
	cur := c.Snapshot()
	c.leaderMu.Lock()
	prev, fns := c.handed, c.onDecided
	c.leaderMu.Unlock()
	if prev != nil && prev.served == cur.Version {
		return nil
	}
	if prev == nil {
		// First hand-off of this leadership: start from what was handed
		// last, by whichever member.
		var v int64
		var h, dead string
		if err := conn.QueryRow(ctx, `SELECT handed_version, handed_health, handed_dead FROM cluster_state WHERE id = 1`).Scan(&v, &h, &dead); err != nil {
			return err
		}
		health, err := status.ParseHealth(h)
		if err != nil {
			return err
		}
		prev = &handed{snap: &status.Snapshot{Version: uint64(v), Health: health, Dead: splitDead(dead)}}
	}
	next := *cur
	next.Version = prev.snap.Version
	changed := prev.snap.Health != cur.Health || !slices.Equal(prev.snap.Dead, cur.Dead)
	if changed {
		next.Version++
	}
	for _, f := range fns {
		f(prev.snap, &next)
	}
	if changed {
		tag, err := conn.Exec(ctx, `UPDATE cluster_state SET handed_version = $1, handed_health = $2, handed_dead = $3
			WHERE id = 1 AND handed_version = $4`, int64(next.Version), next.Health.String(), strings.Join(next.Dead, "\n"), int64(prev.snap.Version))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errors.New("another member handed a decided status meanwhile")
		}
		c.log.Info("cluster: decided page status handed off", "key", next.Version, "from", prev.snap.Health, "to", next.Health, "dead", next.Dead)
	}
	c.leaderMu.Lock()
	c.handed = &handed{snap: &next, served: cur.Version}
	c.leaderMu.Unlock()
	return nil
}

// handed is the last snapshot handed to the consumers.
type handed struct {
	snap   *status.Snapshot // as handed: Version is the hand-off number
	served uint64           // the served snapshot's Version it came from
}

func splitDead(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// prune drops reports older than the replay window, and members silent for
// a day (a member renamed or retired).
func (c *Cluster) prune(ctx context.Context, conn *pgx.Conn) {
	if _, err := conn.Exec(ctx, `DELETE FROM cluster_reports WHERE at_ms < `+nowMS+` - $1`, 2*c.replayWindow().Milliseconds()); err != nil {
		c.log.Warn("cluster: prune reports", "error", err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM cluster_members WHERE heartbeat_ms < `+nowMS+` - 86400000`); err != nil {
		c.log.Warn("cluster: prune members", "error", err)
	}
}

// sleep waits for d or the end of ctx; it reports whether ctx is still on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
