package cluster

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Every member keeps a mirror of the shared observations and decisions, and
// each tick reads only the rows written since its previous read: with
// thousands of replicas, re-reading every row four times a second on every
// member cost more than the probing itself.
//
// "Written since" is told by transaction ids: a trigger stamps each row with
// the id of the transaction that last wrote it (written_xid), and each read
// notes the snapshot it began with (pg_current_snapshot: which transactions
// had committed). The next read asks for the rows whose writer that
// snapshot did not see: still running then, or begun later. None is missed,
// whatever order concurrent writers commit in (a sequence would not do: a
// writer can take a number, then commit after a reader has already read a
// higher one), and none already read comes again, even while a long
// transaction elsewhere on the server holds the oldest running id back.
//
// Whether an observation still counts (fresh, of a live member, of a node
// this member knows) is computed here, from observed_ms against the
// database's clock, and kept up to date without a read: each replica's
// earliest expiry is scheduled, and a replica whose observation went stale
// is re-evaluated then. A full read every fullReadEvery also repairs what
// no increment shows (rows deleted, a database recreated).

// fullReadEvery is how often a member re-reads every row.
const fullReadEvery = 30 * time.Second

// mirror is this member's copy of the shared observations. Only the holder
// of mu reads the database into it (the refresher, or the leader's round).
type mirror struct {
	mu     sync.Mutex
	seen   string // the snapshot of the last read: read the rows its transactions did not see; "": every row
	xmin   uint64 // that snapshot's oldest running transaction
	fullAt time.Time
	rows   map[Key]map[string]obsRow // every observation row read, by replica and member
	expiry expiries
	live   string // the live members and their labels, as of the last read
	modes  map[[2]string]status.Mode
}

// obsRow is one row of cluster_observations.
type obsRow struct {
	key     Key
	member  string
	health  status.Health
	reason  string
	latency int64
	atMS    int64
}

// sharedRead is one read of the shared tables: the rows written since the
// previous read, or every row when full.
type sharedRead struct {
	full    bool
	state   int64 // cluster_state.version
	leader  string
	now     int64  // the database's clock
	snap    string // the snapshot the read began with (pg_snapshot as text)
	xmin    uint64 // its oldest running transaction
	members []Member
	decided map[Key]Decision
	obs     []obsRow
}

// readShared reads the state row (locking it when forUpdate, as the leader
// does), the members, and the decision and observation rows written by
// transactions that snapshot seen did not see (every row when full).
func readShared(ctx context.Context, q querier, seen string, full, forUpdate bool, memberTimeout time.Duration) (sharedRead, error) {
	r := sharedRead{full: full, decided: map[Key]Decision{}}
	stmt := `SELECT version, leader, ` + nowMS + `, pg_current_snapshot()::text FROM cluster_state WHERE id = 1`
	if forUpdate {
		stmt += ` FOR UPDATE`
	}
	if err := q.QueryRow(ctx, stmt).Scan(&r.state, &r.leader, &r.now, &r.snap); err != nil {
		return r, err
	}
	// The text form is xmin:xmax:running,...
	xmin, _, _ := strings.Cut(r.snap, ":")
	var err error
	if r.xmin, err = strconv.ParseUint(xmin, 10, 64); err != nil {
		return r, fmt.Errorf("snapshot %q: %w", r.snap, err)
	}
	if r.members, err = readMembers(ctx, q, r.now, memberTimeout); err != nil {
		return r, err
	}
	where, args := "", []any{}
	if !full {
		// The range on the index first, then the exact test.
		where = ` WHERE written_xid >= pg_snapshot_xmin($1::text::pg_snapshot) AND NOT pg_visible_in_snapshot(written_xid, $1::text::pg_snapshot)`
		args = []any{seen}
	}
	rows, err := q.Query(ctx, `SELECT service, node, replica, health, reason, since_ms, version FROM cluster_decided`+where, args...)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var k Key
		var d Decision
		var h string
		if err := rows.Scan(&k.Service, &k.Node, &k.Replica, &h, &d.Reason, &d.SinceMS, &d.Version); err != nil {
			rows.Close()
			return r, err
		}
		if d.Health, err = status.ParseHealth(h); err != nil {
			rows.Close()
			return r, fmt.Errorf("cluster_decided %v: %w", k, err)
		}
		r.decided[k] = d
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	// Unordered: sorting every row by four text columns cost PostgreSQL more
	// than sorting each replica's few observations here.
	rows, err = q.Query(ctx, `SELECT member, service, node, replica, health, latency_ms, reason, observed_ms FROM cluster_observations`+where, args...)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var o obsRow
		var h string
		if err := rows.Scan(&o.member, &o.key.Service, &o.key.Node, &o.key.Replica, &h, &o.latency, &o.reason, &o.atMS); err != nil {
			rows.Close()
			return r, err
		}
		if o.health, err = status.ParseHealth(h); err != nil {
			rows.Close()
			return r, fmt.Errorf("cluster_observations %v: %w", o.key, err)
		}
		r.obs = append(r.obs, o)
	}
	return r, rows.Err()
}

// synced is what a read changed: the replicas whose fresh observations may
// differ from the previous read's, and the number of live members.
type synced struct {
	state int64
	now   int64
	live  int
	dirty map[Key]struct{}
}

// sync reads the shared state into the mirror and installs it in the view.
// The caller holds c.mirror.mu.
func (c *Cluster) sync(ctx context.Context, q querier, forUpdate bool) (synced, error) {
	m := &c.mirror
	full := m.seen == "" || time.Since(m.fullAt) >= fullReadEvery
	r, err := readShared(ctx, q, m.seen, full, forUpdate, c.o.MemberTimeout)
	if err != nil {
		return synced{}, err
	}
	if !full && r.xmin < m.xmin {
		// Transaction ids went back: another server (a restored or new
		// database). Read everything again.
		if r, err = readShared(ctx, q, "", true, false, c.o.MemberTimeout); err != nil {
			return synced{}, err
		}
	}
	if r.full {
		m.fullAt = time.Now()
	}
	m.seen, m.xmin = r.snap, r.xmin
	return c.install(r), nil
}

// install puts a read in the mirror and the view.
func (c *Cluster) install(r sharedRead) synced {
	m := &c.mirror
	dirty := map[Key]struct{}{}
	if r.full || m.rows == nil {
		for k := range m.rows {
			dirty[k] = struct{}{}
		}
		m.rows = map[Key]map[string]obsRow{}
	}
	for _, o := range r.obs {
		byMember := m.rows[o.key]
		if byMember == nil {
			byMember = map[string]obsRow{}
			m.rows[o.key] = byMember
		}
		byMember[o.member] = o
		dirty[o.key] = struct{}{}
	}
	live := map[string]string{}
	var liveDesc []string
	for _, mem := range r.members {
		if mem.Live {
			live[mem.NodeID] = mem.Label
			liveDesc = append(liveDesc, mem.NodeID+"\x00"+mem.Label)
		}
	}
	modes := c.modes()
	// A member going down or coming up, a new label or a reloaded tree
	// changes which observations count, for every replica.
	if d := strings.Join(liveDesc, "\x01"); r.full || d != m.live || !maps.Equal(modes, m.modes) {
		m.live, m.modes = d, modes
		c.writeModes.Store(&modes)
		for k := range m.rows {
			dirty[k] = struct{}{}
		}
	}
	for _, k := range m.expiry.due(r.now) {
		dirty[k] = struct{}{}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.setMembers(r.state, r.leader, r.members)
	if c.view.decided == nil {
		c.view.decided = map[Key]Decision{}
	}
	if c.view.observed == nil {
		c.view.observed = map[Key][]Observation{}
	}
	if r.full {
		changed = changed || !maps.Equal(c.view.decided, r.decided)
		c.view.decided = r.decided
		for k := range c.view.observed {
			dirty[k] = struct{}{}
		}
	} else {
		for k, d := range r.decided {
			if old, ok := c.view.decided[k]; !ok || old != d {
				c.view.decided[k] = d
				changed = true
			}
		}
	}
	for k := range dirty {
		obs := m.fresh(k, r.now, live, c.o.Fresh)
		changed = changed || !sameObservations(c.view.observed[k], obs)
		if len(obs) == 0 {
			delete(c.view.observed, k)
		} else {
			c.view.observed[k] = obs
		}
	}
	if changed {
		c.view.gen++
	}
	return synced{state: r.state, now: r.now, live: len(live), dirty: dirty}
}

// fresh returns the observations of k that count at now (fresh, of a live
// member, of a node of the local tree), by member, and schedules k's
// re-evaluation for when the first of them goes stale.
func (m *mirror) fresh(k Key, now int64, live map[string]string, window func(service, node string, mode status.Mode) time.Duration) []Observation {
	mode, known := m.modes[[2]string{k.Service, k.Node}]
	rows := m.rows[k]
	if !known || len(rows) == 0 {
		return nil
	}
	w := window(k.Service, k.Node, mode).Milliseconds()
	var out []Observation
	var next int64
	for member, o := range rows {
		label, isLive := live[member]
		if !isLive || now-o.atMS > w {
			continue
		}
		out = append(out, Observation{Member: member, Label: label, Health: o.health, Reason: o.reason, AtMS: o.atMS, Latency: o.latency})
		if stale := o.atMS + w + 1; next == 0 || stale < next {
			next = stale
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(a, b Observation) int { return strings.Compare(a.Member, b.Member) })
	m.expiry.schedule(k, next)
	return out
}

// sameObservations reports whether two lists of observations serve the
// same: their times and latencies aside.
func sameObservations(a, b []Observation) bool {
	return slices.EqualFunc(a, b, func(x, y Observation) bool {
		return x.Member == y.Member && x.Label == y.Label && x.Health == y.Health && x.Reason == y.Reason
	})
}

// expiries schedules the re-evaluation of replicas at times on the
// database's clock; a later schedule of the same replica replaces the
// earlier one.
type expiries struct {
	h  expiryHeap
	at map[Key]int64
}

func (e *expiries) schedule(k Key, at int64) {
	if e.at == nil {
		e.at = map[Key]int64{}
	}
	if e.at[k] == at {
		return
	}
	e.at[k] = at
	heap.Push(&e.h, expiry{at: at, key: k})
}

// due returns the replicas whose time came by now.
func (e *expiries) due(now int64) []Key {
	var out []Key
	for len(e.h) > 0 && e.h[0].at <= now {
		x := heap.Pop(&e.h).(expiry)
		if e.at[x.key] == x.at {
			delete(e.at, x.key)
			out = append(out, x.key)
		}
	}
	return out
}

type expiry struct {
	at  int64
	key Key
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
