package cluster

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
	"github.com/vigil-go/vigil/internal/testkit/faultnet"
)

func TestLease(t *testing.T) {
	const timeout = 3 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLease(timeout)
	if l.heartbeatFresh(t0) || l.valid(t0) || !l.expiry().IsZero() {
		t.Fatal("a member that never wrote a heartbeat may campaign or lead")
	}
	l.heartbeatWritten(t0)
	if !l.heartbeatFresh(t0.Add(timeout-time.Millisecond)) || l.heartbeatFresh(t0.Add(timeout)) {
		t.Error("a heartbeat counts for other than the member timeout")
	}
	if l.valid(t0) {
		t.Error("a lease is valid before the lock was taken")
	}

	// The older of the last heartbeat and the last round bounds the lease.
	l.lockAnswered(t0.Add(time.Second))
	if got := l.expiry(); !got.Equal(t0.Add(timeout)) {
		t.Errorf("expiry %v, want the heartbeat's %v", got, t0.Add(timeout))
	}
	l.heartbeatWritten(t0.Add(2 * time.Second))
	if got := l.expiry(); !got.Equal(t0.Add(time.Second + timeout)) {
		t.Errorf("expiry %v, want the lock round's %v", got, t0.Add(time.Second+timeout))
	}
	if !l.valid(t0.Add(time.Second+timeout-time.Nanosecond)) || l.valid(t0.Add(time.Second+timeout)) {
		t.Error("the lease does not end exactly a member timeout after the older answer")
	}
	// Late answers to earlier exchanges never move it back.
	l.heartbeatWritten(t0)
	l.lockAnswered(t0)
	if got := l.expiry(); !got.Equal(t0.Add(time.Second + timeout)) {
		t.Errorf("an older answer moved the expiry to %v", got)
	}
	l.released()
	if l.valid(t0.Add(time.Second)) {
		t.Error("a released lease is still valid")
	}
}

const (
	partHeartbeat = 500 * time.Millisecond
	partTimeout   = 2 * time.Second
)

// partMember is a member for the partition tests, with its log and the
// number of decided snapshots it handed to the alerting.
type partMember struct {
	*running
	log    *testkit.LogBuffer
	handed atomic.Int64
}

func startPartMember(t testing.TB, dbURL, id string, heartbeat, timeout time.Duration) *partMember {
	t.Helper()
	src := staticSource{&status.Snapshot{Version: 1, Services: []status.Service{{ID: "web", Nodes: []status.Node{
		{ID: "api", Mode: status.Poll, Replicas: []status.Replica{{ID: "http://api/"}}},
	}}}}}
	m := &partMember{log: &testkit.LogBuffer{}}
	c, err := New(context.Background(), Options{
		URL: dbURL, NodeID: id, Confirmations: 1, Heartbeat: heartbeat, MemberTimeout: timeout,
		Tick: 100 * time.Millisecond, Local: src, Logger: slog.New(slog.NewTextHandler(m.log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.OnDecided(func(prev, cur *status.Snapshot) { m.handed.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	m.running = &running{c: c, cancel: cancel, done: make(chan struct{})}
	go func() { c.Run(ctx); c.Close(); close(m.done) }()
	t.Cleanup(func() {
		cancel()
		<-m.done
	})
	return m
}

// throughRelay starts a relay to dbURL's server and returns dbURL through it.
func throughRelay(t testing.TB, dbURL string) (*faultnet.Relay, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	relay := faultnet.Start(t, u.Host)
	u.Host = relay.Addr()
	return relay, u.String()
}

// lockHolders returns the members whose lock connection holds the leader
// lock, as the database sees it.
func lockHolders(t *testing.T, dbURL string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT node_id FROM (`+heldBy+`) h (pid, node_id, age) ORDER BY node_id`, leaderLock)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestLeaderCutOffStepsDown: a leader whose connections to PostgreSQL are
// black-holed (no reset, no close: the server still sees them open, and its
// lock held) stops leading by itself within the member timeout, hands
// nothing more to the alerting, and another member takes the lock by
// ending the cut-off member's backend once its heartbeat is stale: within
// two member timeouts and a heartbeat. When the network heals, the former
// leader comes back as a follower. A live leader is never ended.
func TestLeaderCutOffStepsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	dbURL := freshDatabase(t)
	relay, relayed := throughRelay(t, dbURL)
	a := startPartMember(t, relayed, "a", partHeartbeat, partTimeout)
	waitUntil(t, "a leads", a.c.IsLeader)
	b := startPartMember(t, dbURL, "b", partHeartbeat, partTimeout)
	waitUntil(t, "b sees a as leader", func() bool { return b.c.Status().Leader == "a" })

	// A candidate with a live leader ends nothing, however long it tries.
	time.Sleep(partTimeout + 2*partHeartbeat)
	if !a.c.IsLeader() || b.c.IsLeader() {
		t.Fatalf("a live leader lost the lead: a leads %v, b leads %v", a.c.IsLeader(), b.c.IsLeader())
	}
	if got := lockHolders(t, dbURL); strings.Join(got, ",") != "a" {
		t.Fatalf("lock held by %v, want a", got)
	}
	if strings.Contains(b.log.String(), "ended the lock connection") {
		t.Fatal("b ended the lock connection of a live leader")
	}

	relay.Set(faultnet.Partition)
	cut := time.Now()
	stepped := waitUntil(t, "a steps down", func() bool { return !a.c.IsLeader() })
	handed := a.handed.Load()
	took := waitUntil(t, "b leads", b.c.IsLeader) + stepped
	t.Logf("a stepped down after %v, b leads after %v", stepped, took)
	if stepped > partTimeout {
		t.Errorf("a stepped down %v after it was cut off, want within the member timeout (%v)", stepped, partTimeout)
	}
	if bound := 2*partTimeout + partHeartbeat; took > bound {
		t.Errorf("b leads %v after a was cut off, want within %v", took, bound)
	}
	if !strings.Contains(a.log.String(), "stepping down: the database has not answered within member_timeout") {
		t.Errorf("a's log does not say why it stopped leading:\n%s", a.log.String())
	}
	if !strings.Contains(b.log.String(), `ended the lock connection of a leader cut off from the database" member=b leader=a`) {
		t.Errorf("b's log does not say it ended a's lock connection:\n%s", b.log.String())
	}
	if got := lockHolders(t, dbURL); strings.Join(got, ",") != "b" {
		t.Errorf("lock held by %v after the takeover, want b", got)
	}

	// Still cut off: a neither leads nor hands anything off.
	time.Sleep(partTimeout)
	if a.c.IsLeader() || a.handed.Load() != handed {
		t.Errorf("a cut off for %v: leads %v, handed %d snapshots more", time.Since(cut), a.c.IsLeader(), a.handed.Load()-handed)
	}

	// Healed: a is live again, a follower.
	relay.Set(faultnet.Pass)
	waitUntil(t, "a live again", func() bool {
		for _, m := range b.c.Status().Members {
			if m.NodeID == "a" {
				return m.Live
			}
		}
		return false
	})
	time.Sleep(partTimeout)
	if a.c.IsLeader() || !b.c.IsLeader() || a.handed.Load() != handed {
		t.Errorf("after the heal: a leads %v, b leads %v, a handed %d more", a.c.IsLeader(), b.c.IsLeader(), a.handed.Load()-handed)
	}
	if got := lockHolders(t, dbURL); strings.Join(got, ",") != "b" {
		t.Errorf("lock held by %v after the heal, want b", got)
	}
	if a.c.Status().Leader != "b" {
		t.Errorf("a serves leader %q after the heal, want b", a.c.Status().Leader)
	}
}

// TestLeaderStepsDownOnHangingConnection: a lone leader whose database
// stops answering (connections stay up, nothing comes back) stops leading
// when its lease ends, within the member timeout, though a round on its
// lock connection is still waiting for an answer; when the database
// answers again it leads again.
func TestLeaderStepsDownOnHangingConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	dbURL := freshDatabase(t)
	relay, relayed := throughRelay(t, dbURL)
	a := startPartMember(t, relayed, "a", partHeartbeat, partTimeout)
	waitUntil(t, "a leads", a.c.IsLeader)
	waitUntil(t, "a handed its first snapshot", func() bool { return a.handed.Load() > 0 })

	relay.Set(faultnet.Hang)
	stepped := waitUntil(t, "a steps down", func() bool { return !a.c.IsLeader() })
	handed := a.handed.Load()
	if stepped > partTimeout {
		t.Errorf("a stepped down %v after the database stopped answering, want within %v", stepped, partTimeout)
	}
	time.Sleep(partTimeout)
	if a.c.IsLeader() || a.handed.Load() != handed {
		t.Errorf("with the database hanging: a leads %v, handed %d more", a.c.IsLeader(), a.handed.Load()-handed)
	}
	if !strings.Contains(a.log.String(), "stepping down: the database has not answered within member_timeout") {
		t.Errorf("a's log does not say why it stopped leading:\n%s", a.log.String())
	}

	relay.Set(faultnet.Pass)
	waitUntil(t, "a leads again", a.c.IsLeader)
	if got := lockHolders(t, dbURL); strings.Join(got, ",") != "a" {
		t.Errorf("lock held by %v, want a", got)
	}
}
