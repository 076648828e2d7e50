package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-go/vigil/internal/status"
)

// The benchmarks need the PostgreSQL server of the test environment; each
// run gets a database of its own, dropped at the end.
const adminURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// staticSource is a monitor stand-in with one poll replica: the benchmarks
// feed observations straight to Observe.
type staticSource struct{ snap *status.Snapshot }

func (s staticSource) Snapshot() *status.Snapshot { return s.snap }
func (staticSource) Report(string, string, status.Report) error {
	return nil
}
func (staticSource) Flush(string, string, string) error { return nil }

func freshDatabase(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		tb.Skip("no PostgreSQL on 127.0.0.1:5432: " + err.Error())
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("vigil_cluster_%d", rand.Int64())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		admin, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer admin.Close(ctx)
		admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", name)
}

type running struct {
	c      *Cluster
	cancel context.CancelFunc
	done   chan struct{}
}

var memberSeq atomic.Int64

func startMembers(tb testing.TB, url string, n int) []*running {
	tb.Helper()
	src := staticSource{&status.Snapshot{Version: 1, Services: []status.Service{{ID: "web", Nodes: []status.Node{
		{ID: "api", Mode: status.Poll, Replicas: []status.Replica{{ID: "http://api/"}}},
	}}}}}
	var out []*running
	for range n {
		c, err := New(context.Background(), Options{
			URL: url, NodeID: fmt.Sprintf("m%d", memberSeq.Add(1)), Confirmations: 2,
			Heartbeat: time.Second, MemberTimeout: 3 * time.Second,
			Local: src, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{c: c, cancel: cancel, done: make(chan struct{})}
		go func() { c.Run(ctx); c.Close(); close(r.done) }()
		out = append(out, r)
	}
	tb.Cleanup(func() {
		for _, r := range out {
			r.cancel()
			<-r.done
		}
	})
	return out
}

func leaderOf(ms []*running) *running {
	for _, m := range ms {
		if m.c.IsLeader() {
			return m
		}
	}
	return nil
}

func waitUntil(tb testing.TB, what string, cond func() bool) time.Duration {
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			tb.Fatalf("timed out: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func observe(c *Cluster, h status.Health) {
	c.Observe(status.Observation{Service: "web", Node: "api", Replica: "http://api/", At: time.Now(),
		Health: h, Reason: "bench"})
}

func report(b *testing.B, name string, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[0].Microseconds())/1000, name+"-min-ms")
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-median-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, name+"-max-ms")
}

// BenchmarkDecidedFlip measures the time from the second member's dead
// observation (the one that reaches the two confirmations) to the flip
// served by the leader, and back.
func BenchmarkDecidedFlip(b *testing.B) {
	ms := startMembers(b, freshDatabase(b), 3)
	waitUntil(b, "a leader", func() bool { return leaderOf(ms) != nil })
	leader := leaderOf(ms)
	served := func(h status.Health) func() bool {
		return func() bool { return leader.c.Snapshot().Health == h }
	}
	var flips []time.Duration
	for b.Loop() {
		observe(ms[0].c, status.Dead)
		time.Sleep(300 * time.Millisecond) // one observation is not enough
		start := time.Now()
		observe(ms[1].c, status.Dead)
		waitUntil(b, "dead", served(status.Dead))
		flips = append(flips, time.Since(start))
		observe(ms[0].c, status.Healthy)
		observe(ms[1].c, status.Healthy)
		waitUntil(b, "healthy", served(status.Healthy))
	}
	report(b, "flip", flips)
}

// BenchmarkFailover measures the time from the leader's stop (its lock
// connection closes, as when the process is killed) to another member
// leading; the stopped member is then replaced for the next round.
func BenchmarkFailover(b *testing.B) {
	url := freshDatabase(b)
	ms := startMembers(b, url, 3)
	var failovers []time.Duration
	for b.Loop() {
		waitUntil(b, "a leader", func() bool { return leaderOf(ms) != nil })
		old := leaderOf(ms)
		start := time.Now()
		old.cancel()
		waitUntil(b, "a new leader", func() bool {
			l := leaderOf(ms)
			return l != nil && l != old
		})
		failovers = append(failovers, time.Since(start))
		<-old.done
		i := slices.Index(ms, old)
		ms[i] = startMembers(b, url, 1)[0]
	}
	report(b, "failover", failovers)
}

// BenchmarkReadObservations measures what a member pays to read the
// shared observations: replicas × 3 members rows, all fresh. full reads
// every row (at a member's start, then every fullReadEvery); incremental
// reads the rows written since the previous read (every tick), here none.
func BenchmarkReadObservations(b *testing.B) {
	for _, replicas := range []int{100, 1000, 5000} {
		for _, full := range []bool{true, false} {
			name := fmt.Sprintf("replicas=%d/incremental", replicas)
			if full {
				name = fmt.Sprintf("replicas=%d/full", replicas)
			}
			b.Run(name, func(b *testing.B) {
				ms := startMembers(b, freshDatabase(b), 1)
				pool := ms[0].c.pool
				ctx := context.Background()
				if _, err := pool.Exec(ctx, `INSERT INTO cluster_observations (member, service, node, replica, health, latency_ms, reason, observed_ms)
					SELECT 'm' || m, 'web', 'api', 'http://10.0.0.' || r || '/', 'healthy', 1, '', `+nowMS+`
					FROM generate_series(1, 3) m, generate_series(1, $1::int) r`, replicas); err != nil {
					b.Fatal(err)
				}
				first, err := readShared(ctx, pool, "", true, false, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				var n int
				for b.Loop() {
					r, err := readShared(ctx, pool, first.snap, full, false, time.Minute)
					if err != nil {
						b.Fatal(err)
					}
					n = len(r.obs)
				}
				if want := map[bool]int{true: 3 * replicas, false: 0}[full]; n != want {
					b.Fatalf("read %d rows, want %d", n, want)
				}
				b.ReportMetric(float64(n), "rows/op")
			})
		}
	}
}
