package cluster

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigil-go/vigil/internal/status"
)

// mirrorMember is a Cluster that is not running: the test drives its reads.
func mirrorMember(t *testing.T, url string, fresh time.Duration) (*Cluster, *pgxpool.Pool) {
	t.Helper()
	src := staticSource{&status.Snapshot{Version: 1, Services: []status.Service{{ID: "web", Nodes: []status.Node{
		{ID: "api", Mode: status.Poll, Replicas: []status.Replica{{ID: "a"}, {ID: "b"}}},
	}}}}}
	c, err := New(context.Background(), Options{
		URL: url, NodeID: "reader", Heartbeat: time.Second, MemberTimeout: time.Minute,
		Fresh: func(string, string, status.Mode) time.Duration { return fresh },
		Local: src, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	for _, m := range []string{"m1", "m2"} {
		if _, err := c.pool.Exec(ctx, `INSERT INTO cluster_members (node_id, label, started_ms, heartbeat_ms)
			VALUES ($1, $1, `+nowMS+`, `+nowMS+` + 3600000)`, m); err != nil {
			t.Fatal(err)
		}
	}
	return c, c.pool
}

func (c *Cluster) syncNow(t *testing.T) synced {
	t.Helper()
	c.mirror.mu.Lock()
	defer c.mirror.mu.Unlock()
	s, err := c.sync(context.Background(), c.pool, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *Cluster) observedHealth(k Key) map[string]status.Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]status.Health{}
	for _, o := range c.view.observed[k] {
		out[o.Member] = o.Health
	}
	return out
}

const upsertObservation = `INSERT INTO cluster_observations (member, service, node, replica, health, latency_ms, reason, observed_ms)
	VALUES ($1, 'web', 'api', $2, $3, 1, '', ` + nowMS + ` - $4)
	ON CONFLICT (member, service, node, replica) DO UPDATE SET health = EXCLUDED.health, observed_ms = EXCLUDED.observed_ms`

// TestIncrementalReadMissesNoConcurrentWrite: a write whose transaction
// began before a read but commits after it — while a later write committed
// before the read — is seen by the next incremental read. A reader that
// went on from the highest change it had seen would skip it for good.
func TestIncrementalReadMissesNoConcurrentWrite(t *testing.T) {
	c, pool := mirrorMember(t, freshDatabase(t), time.Hour)
	ctx := context.Background()
	a, b := Key{"web", "api", "a"}, Key{"web", "api", "b"}
	for _, m := range []string{"m1", "m2"} {
		for _, r := range []string{"a", "b"} {
			if _, err := pool.Exec(ctx, upsertObservation, m, r, "healthy", 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.syncNow(t) // the full first read
	if got := c.observedHealth(a); len(got) != 2 {
		t.Fatalf("after the full read, a observed by %v, want m1 and m2", got)
	}

	// The slow writer: its transaction takes its id now, commits last.
	slow, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx)
	if _, err := slow.Exec(ctx, upsertObservation, "m1", "a", "dead", 0); err != nil {
		t.Fatal(err)
	}
	// The quick writer commits first.
	if _, err := pool.Exec(ctx, upsertObservation, "m2", "b", "dead", 0); err != nil {
		t.Fatal(err)
	}
	s := c.syncNow(t)
	if got := c.observedHealth(b); got["m2"] != status.Dead {
		t.Fatalf("the committed write is not read: b observed %v", got)
	}
	if _, dirty := s.dirty[b]; !dirty {
		t.Errorf("b changed but is not among the replicas to decide again: %v", s.dirty)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	s = c.syncNow(t)
	if got := c.observedHealth(a); got["m1"] != status.Dead {
		t.Fatalf("the write committed after a read that could not see it was missed: a observed %v", got)
	}
	if _, dirty := s.dirty[a]; !dirty {
		t.Errorf("a changed but is not among the replicas to decide again: %v", s.dirty)
	}

	// A read with nothing new reads nothing and changes nothing.
	gen := c.view.gen
	s = c.syncNow(t)
	if len(s.dirty) != 0 || c.view.gen != gen {
		t.Errorf("a read with no new write: dirty %v, generation %d → %d", s.dirty, gen, c.view.gen)
	}
}

// TestLongTransactionDoesNotRepeatRows: a transaction left open elsewhere
// on the server (it holds the oldest running id back) does not make each
// read return again the rows written since it began.
func TestLongTransactionDoesNotRepeatRows(t *testing.T) {
	c, pool := mirrorMember(t, freshDatabase(t), time.Hour)
	ctx := context.Background()
	c.syncNow(t)
	long, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(ctx)
	if _, err := long.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil { // takes an id
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, upsertObservation, "m1", "a", "dead", 0); err != nil {
		t.Fatal(err)
	}
	if s := c.syncNow(t); len(s.dirty) != 1 {
		t.Fatalf("the read after one write found %d replicas changed, want 1", len(s.dirty))
	}
	for range 3 {
		if s := c.syncNow(t); len(s.dirty) != 0 {
			t.Fatalf("a read with nothing new written found %v changed again", s.dirty)
		}
	}
}

// TestStaleObservationStopsCounting: an observation older than its
// freshness window leaves the view (and is handed to the leader to decide
// again) at the first read after it went stale, though nothing was written
// since.
func TestStaleObservationStopsCounting(t *testing.T) {
	const fresh = 2 * time.Second
	c, pool := mirrorMember(t, freshDatabase(t), fresh)
	ctx := context.Background()
	a := Key{"web", "api", "a"}
	// m1's observation goes stale in about 1.2 s; m2's stays fresh.
	if _, err := pool.Exec(ctx, upsertObservation, "m1", "a", "dead", (fresh - 1200*time.Millisecond).Milliseconds()); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, upsertObservation, "m2", "a", "healthy", -time.Hour.Milliseconds()); err != nil {
		t.Fatal(err)
	}
	c.syncNow(t)
	if got := c.observedHealth(a); got["m1"] != status.Dead || got["m2"] != status.Healthy {
		t.Fatalf("a observed %v, want m1 dead and m2 healthy", got)
	}
	gen := c.view.gen
	time.Sleep(1500 * time.Millisecond)
	s := c.syncNow(t)
	if got := c.observedHealth(a); len(got) != 1 || got["m2"] != status.Healthy {
		t.Errorf("after m1's observation went stale, a observed %v, want m2 healthy only", got)
	}
	if _, dirty := s.dirty[a]; !dirty {
		t.Errorf("a's observation went stale but a is not among the replicas to decide again: %v", s.dirty)
	}
	if c.view.gen == gen {
		t.Error("the view's generation did not change: the served snapshot would keep the stale vantage")
	}
}

// TestWriterSkipsUnchangedObservations: an observation whose health and
// reason are those last written is written again only once half the
// freshness window has passed; a change is written at once.
func TestWriterSkipsUnchangedObservations(t *testing.T) {
	c := &Cluster{o: Options{Fresh: func(string, string, status.Mode) time.Duration { return 10 * time.Second }},
		written: map[Key]writtenObs{}}
	k := Key{"web", "api", "a"}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	c.written[k] = writtenObs{health: status.Healthy, at: t0}
	obs := func(h status.Health, reason string, at time.Time) map[Key]status.Observation {
		return map[Key]status.Observation{k: {Service: "web", Node: "api", Replica: "a", Health: h, Reason: reason, At: at}}
	}
	for _, tc := range []struct {
		name   string
		obs    map[Key]status.Observation
		writes bool
	}{
		{"unchanged, 1 s later", obs(status.Healthy, "", t0.Add(time.Second)), false},
		{"unchanged, 4.9 s later", obs(status.Healthy, "", t0.Add(4900*time.Millisecond)), false},
		{"unchanged, half the window later", obs(status.Healthy, "", t0.Add(5*time.Second)), true},
		{"dead, 1 s later", obs(status.Dead, "HTTP 500", t0.Add(time.Second)), true},
		{"another reason", obs(status.Healthy, "slow", t0.Add(time.Second)), true},
	} {
		if _, got := c.needsWrite(tc.obs)[k]; got != tc.writes {
			t.Errorf("%s: written %v, want %v", tc.name, got, tc.writes)
		}
	}
	other := Key{"web", "api", "b"}
	if got := c.needsWrite(map[Key]status.Observation{other: {Health: status.Healthy, At: t0}}); len(got) != 1 {
		t.Error("a replica never written before is not written")
	}
}

// TestWriteBatchWritesEveryObservation: the observations of one batch,
// written in one statement, are all stored, with their health and reason.
func TestWriteBatchWritesEveryObservation(t *testing.T) {
	c, pool := mirrorMember(t, freshDatabase(t), time.Hour)
	ctx := context.Background()
	now := time.Now()
	batch := map[Key]status.Observation{}
	for i, r := range []string{"a", "b", "c"} {
		h := status.Healthy
		if i == 1 {
			h = status.Dead
		}
		batch[Key{"web", "api", r}] = status.Observation{Service: "web", Node: "api", Replica: r, Health: h, Reason: "r" + r, At: now}
	}
	if err := c.writeBatch(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT replica, health, reason FROM cluster_observations WHERE member = 'reader' ORDER BY replica`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var r, h, reason string
		if err := rows.Scan(&r, &h, &reason); err != nil {
			t.Fatal(err)
		}
		got = append(got, r+"="+h+"/"+reason)
	}
	if want := "a=healthy/ra b=dead/rb c=healthy/rc"; strings.Join(got, " ") != want {
		t.Errorf("stored %q, want %q", strings.Join(got, " "), want)
	}
}
