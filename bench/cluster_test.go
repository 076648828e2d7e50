package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-go/vigil/internal/store/pgtest"
)

// BenchmarkClusterUnderLoad runs three cluster members as child processes on
// one fresh database of the PostgreSQL server at 127.0.0.1:5432 (or
// VIGIL_TEST_POSTGRES), each probing N nodes of one HTTP replica from its own
// source address (127.0.0.2, .3 and .4; Linux routes 127.0.0.0/8 to lo), with
// confirmations = 2, heartbeat_interval = 1 s and member_timeout = 3 s. A
// single node (no cluster, storing in a database of its own on the same
// server, as the members do) probes the same targets first, in the same
// run, as the reference for CPU per check.
//
// It reports, over a window of steady state:
//   - checks/s of each member against the ideal N/interval, counted by the
//     targets per source address (member-min-ideal-ratio is the worst
//     member's);
//   - CPU per check of each member (/proc/<pid>/stat) against the single
//     node's (member-cpu-ratio: the worst member's over the single node's);
//   - PostgreSQL's CPU: utime+stime of the backends connected to the
//     benchmark's database (pg_stat_activity), per second of the window —
//     the server's own background processes, shared with other databases,
//     are left out;
//   - rows written and read per second in that database
//     (pg_stat_database: tup_inserted+tup_updated+tup_deleted, and
//     tup_returned+tup_fetched), which the members' store shares, and in
//     the cluster's tables alone (pg_stat_user_tables: n_tup_ins+upd+del,
//     and seq_tup_read+idx_tup_fetch: rows scanned, not only returned).
//
// Then the decision lag: flipTargets targets start answering 500 at once;
// for each, the quorum-making observation is the second member's first
// failing answer (the target records, per source address, when it first
// answered 500), and the lag is from that answer to the decided flip
// (cluster_transitions.at_ms, on the same machine's clock). p50 and p99
// over the flipped targets.
//
// BENCH_CLUSTER_NODES replaces the 5000 nodes of the 5 s case (a quick
// check of the benchmark itself).
//
// Last the failover time: the leader (per /status/cluster) is killed with
// SIGKILL, and the time is until a surviving member serves a surviving
// member as leader.
func BenchmarkClusterUnderLoad(b *testing.B) {
	for _, c := range []struct {
		nodes    int
		interval int
		window   time.Duration
	}{
		{envInt("BENCH_CLUSTER_NODES", 5000), 5, 20 * time.Second},
		{5000, 1, 15 * time.Second},
	} {
		b.Run(fmt.Sprintf("nodes=%d/interval=%ds", c.nodes, c.interval), func(b *testing.B) {
			benchClusterUnderLoad(b, c.nodes, c.interval, c.window)
		})
	}
}

// flipTargets is how many targets the decision-lag phase fails at once.
const flipTargets = 100

var memberSources = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

func benchClusterUnderLoad(b *testing.B, nodes, intervalS int, window time.Duration) {
	tg := newSourceTargets(nodes)
	defer tg.srv.Close()
	urls := make([]string, nodes)
	for i := range urls {
		urls[i] = tg.url(i)
	}
	interval := time.Duration(intervalS) * time.Second
	ideal := float64(nodes) / interval.Seconds()
	base := vigilConfig{replicas: urls, interval: intervalS, parallelism: probeParallelism, delayDead: 10, replicasNode: 1}

	// The single node, alone on the machine (apart from the targets), on
	// a PostgreSQL database of its own as the members store theirs.
	singleURL, _, _ := pgtest.FreshDatabase(b)
	alone := base
	alone.pgURL = singleURL
	single := startVigil(b, alone)
	tg.waitAllHit(b, "127.0.0.1", 5*interval+30*time.Second)
	time.Sleep(interval)
	singleW := tg.measureSource(single, "127.0.0.1", window)
	single.stop()
	singleCPU := singleW.cpuPerCheck()

	dbURL, dbName, _ := pgtest.FreshDatabase(b)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close(ctx)

	members := make([]*proc, len(memberSources))
	for i, src := range memberSources {
		cfg := base
		cfg.source, cfg.pgURL = src, dbURL
		cfg.cluster = &clusterMember{nodeID: fmt.Sprintf("m%d", i+2), label: "v" + src,
			confirmations: 2, heartbeat: 1, timeout: 3}
		members[i] = startVigil(b, cfg)
	}
	for _, src := range memberSources {
		tg.waitAllHit(b, src, 5*interval+60*time.Second)
	}
	time.Sleep(2 * interval) // settle into the cadence

	// Steady state.
	pgCPU := watchBackends(b, dbURL, dbName)
	written0, read0, cw0, cr0 := tupleCounts(b, db, dbName)
	hits0 := make([]int64, len(members))
	cpu0 := make([]time.Duration, len(members))
	for i, m := range members {
		hits0[i], cpu0[i] = tg.bySource(memberSources[i]), m.cpu()
	}
	t0 := time.Now()
	time.Sleep(window)
	elapsed := time.Since(t0)
	worstRatio, worstCPU := 1e9, 0.0
	for i, m := range members {
		w := window2{elapsed: elapsed, hits: tg.bySource(memberSources[i]) - hits0[i], cpu: m.cpu() - cpu0[i]}
		worstRatio = min(worstRatio, w.rate()/ideal)
		worstCPU = max(worstCPU, w.cpuPerCheck())
		b.ReportMetric(w.rate()/ideal, fmt.Sprintf("m%d-ideal-ratio", i+2))
		b.ReportMetric(w.cpuPerCheck(), fmt.Sprintf("m%d-cpu-us/check", i+2))
	}
	pgUsed := pgCPU.stop()
	// pg_stat_database is updated by each backend at most once a second.
	time.Sleep(1500 * time.Millisecond)
	written1, read1, cw1, cr1 := tupleCounts(b, db, dbName)
	statsElapsed := elapsed + 1500*time.Millisecond
	b.ReportMetric(singleW.rate()/ideal, "single-ideal-ratio")
	b.ReportMetric(singleCPU, "single-cpu-us/check")
	b.ReportMetric(worstRatio, "member-min-ideal-ratio")
	b.ReportMetric(worstCPU/singleCPU, "member-cpu-ratio")
	b.ReportMetric(pgUsed.Seconds()/elapsed.Seconds()*100, "pg-cpu-%")
	b.ReportMetric(float64(written1-written0)/statsElapsed.Seconds(), "pg-rows-written/s")
	b.ReportMetric(float64(read1-read0)/statsElapsed.Seconds(), "pg-rows-read/s")
	b.ReportMetric(float64(cw1-cw0)/statsElapsed.Seconds(), "cluster-rows-written/s")
	b.ReportMetric(float64(cr1-cr0)/statsElapsed.Seconds(), "cluster-rows-read/s")

	// Decision lag.
	flipped := make([]int, 0, flipTargets)
	for i := 0; i < nodes && len(flipped) < flipTargets; i += nodes / flipTargets {
		flipped = append(flipped, i)
	}
	tg.failAll(flipped)
	flipAt := time.Now()
	var lags []float64
	if _, ok := waitFor(3*interval+60*time.Second, func() bool {
		lags = decisionLags(b, db, tg, flipped)
		return len(lags) == len(flipped)
	}); !ok {
		// Reported rather than fatal: the figures above and the failover
		// below still say how the cluster copes.
		var transitions, version int64
		var leader string
		_ = db.QueryRow(ctx, `SELECT count(*) FROM cluster_transitions`).Scan(&transitions)
		_ = db.QueryRow(ctx, `SELECT version, leader FROM cluster_state`).Scan(&version, &leader)
		var dead, quorum int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM cluster_observations WHERE health = 'dead'`).Scan(&dead)
		for _, i := range flipped {
			if _, ok := tg.quorumAt(i); ok {
				quorum++
			}
		}
		b.Logf("%d of %d flips decided within %s (transitions %d, state version %d, leader %q; dead observations %d, flipped targets failing for two members %d)",
			len(lags), len(flipped), time.Since(flipAt).Round(time.Second), transitions, version, leader, dead, quorum)
		for i, m := range members {
			out := m.out.String()
			b.Logf("m%d stderr (last 2000 bytes):\n%s", i+2, out[max(len(out)-2000, 0):])
		}
	}
	b.ReportMetric(float64(len(lags))/float64(len(flipped)), "flips-decided-ratio")
	if len(lags) > 0 {
		sort.Float64s(lags)
		b.ReportMetric(lags[len(lags)/2], "lag-p50-ms")
		b.ReportMetric(lags[(len(lags)*99+99)/100-1], "lag-p99-ms")
	}

	// Failover under load.
	leader := -1
	if _, ok := waitFor(30*time.Second, func() bool {
		leader = leaderOf(members)
		return leader >= 0
	}); !ok {
		b.Fatal("no member leads")
	}
	killed := time.Now()
	if err := members[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		b.Fatal(err)
	}
	members[leader].cmd.Wait()
	others := map[string]bool{}
	for i := range members {
		if i != leader {
			others[fmt.Sprintf("m%d", i+2)] = true
		}
	}
	tookOver, ok := waitFor(60*time.Second, func() bool {
		for i, m := range members {
			if i == leader {
				continue
			}
			if s, err := clusterStatusOf(m); err == nil && others[s.Leader] {
				return true
			}
		}
		return false
	})
	if !ok {
		b.Fatal("no member took over within 60 s of the leader's kill")
	}
	b.ReportMetric(float64(tookOver.Sub(killed).Milliseconds()), "failover-ms")
}

// window2 is a measure window of one member (hits counted per source).
type window2 struct {
	elapsed time.Duration
	hits    int64
	cpu     time.Duration
}

func (w window2) rate() float64 { return float64(w.hits) / w.elapsed.Seconds() }
func (w window2) cpuPerCheck() float64 {
	if w.hits == 0 {
		return 0
	}
	return float64(w.cpu.Microseconds()) / float64(w.hits)
}

// sourceTargets is a loopback server of n paths that counts requests by
// source address, and can make paths answer 500, recording per path and
// source address when it first did.
type sourceTargets struct {
	srv      *loopServer
	n        int
	counts   [256]atomic.Int64 // by the last byte of the source address
	hit      [256][]atomic.Bool
	fail     []atomic.Bool
	mu       sync.Mutex
	failedAt map[[2]int]time.Time // (path, source byte) → first 500
}

func newSourceTargets(n int) *sourceTargets {
	t := &sourceTargets{n: n, fail: make([]atomic.Bool, n), failedAt: map[[2]int]time.Time{}}
	for _, s := range append([]string{"127.0.0.1"}, memberSources...) {
		t.hit[lastByte(s)] = make([]atomic.Bool, n)
	}
	t.srv = serve(http.HandlerFunc(t.handle))
	return t
}

func lastByte(ip string) int {
	p := net.ParseIP(ip).To4()
	if p == nil {
		return 0
	}
	return int(p[3])
}

func (t *sourceTargets) handle(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
	if err != nil || i < 0 || i >= t.n {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	src := lastByte(host)
	t.counts[src].Add(1)
	if h := t.hit[src]; h != nil {
		h[i].Store(true)
	}
	if t.fail[i].Load() {
		now := time.Now()
		t.mu.Lock()
		if _, seen := t.failedAt[[2]int{i, src}]; !seen {
			t.failedAt[[2]int{i, src}] = now
		}
		t.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (t *sourceTargets) url(i int) string { return t.srv.URL + "/r/" + strconv.Itoa(i) }

func (t *sourceTargets) bySource(ip string) int64 { return t.counts[lastByte(ip)].Load() }

func (t *sourceTargets) waitAllHit(b *testing.B, ip string, limit time.Duration) {
	h := t.hit[lastByte(ip)]
	if _, ok := waitFor(limit, func() bool {
		for i := range h {
			if !h[i].Load() {
				return false
			}
		}
		return true
	}); !ok {
		b.Fatalf("not every replica was probed from %s within %s", ip, limit)
	}
}

func (t *sourceTargets) measureSource(p *proc, ip string, d time.Duration) window2 {
	hits0, cpu0, t0 := t.bySource(ip), p.cpu(), time.Now()
	time.Sleep(d)
	return window2{elapsed: time.Since(t0), hits: t.bySource(ip) - hits0, cpu: p.cpu() - cpu0}
}

func (t *sourceTargets) failAll(paths []int) {
	for _, i := range paths {
		t.fail[i].Store(true)
	}
}

// quorumAt is when the second member (confirmations = 2) first got a
// failing answer from path i; false until two have.
func (t *sourceTargets) quorumAt(i int) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var at []time.Time
	for _, s := range memberSources {
		if ts, ok := t.failedAt[[2]int{i, lastByte(s)}]; ok {
			at = append(at, ts)
		}
	}
	if len(at) < 2 {
		return time.Time{}, false
	}
	sort.Slice(at, func(a, b int) bool { return at[a].Before(at[b]) })
	return at[1], true
}

// decisionLags returns, for each flipped path already decided dead, the
// milliseconds from its quorum-making observation to the decided flip.
func decisionLags(b *testing.B, db *pgx.Conn, tg *sourceTargets, flipped []int) []float64 {
	rows, err := db.Query(context.Background(), `SELECT node, min(at_ms) FROM cluster_transitions WHERE to_health = 'dead' GROUP BY node`)
	if err != nil {
		b.Fatal(err)
	}
	decided := map[string]int64{}
	for rows.Next() {
		var node string
		var at int64
		if err := rows.Scan(&node, &at); err != nil {
			b.Fatal(err)
		}
		decided[node] = at
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	var lags []float64
	for _, i := range flipped {
		at, ok := decided[fmt.Sprintf("n%d", i)]
		if !ok {
			continue
		}
		q, ok := tg.quorumAt(i)
		if !ok {
			continue
		}
		lags = append(lags, float64(at-q.UnixMilli()))
	}
	return lags
}

// backendWatch sums the CPU time of the server processes serving a
// database over a window. Backends come and go (a pool closes idle
// connections): each is sampled every 200 ms, its last reading counts, and
// one first seen after the start counts from zero.
type backendWatch struct {
	stopc chan struct{}
	done  chan time.Duration
}

func watchBackends(b *testing.B, url, name string) *backendWatch {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	w := &backendWatch{stopc: make(chan struct{}), done: make(chan time.Duration, 1)}
	first, last := map[int]time.Duration{}, map[int]time.Duration{}
	pids := func() []int {
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name)
		if err != nil {
			return nil
		}
		ps, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
		out := make([]int, len(ps))
		for i, p := range ps {
			out[i] = int(p)
		}
		return out
	}
	known := pids()
	for _, p := range known {
		first[p] = pidCPU(p)
		last[p] = first[p]
	}
	go func() {
		defer conn.Close(ctx)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-w.stopc:
				var sum time.Duration
				for p, l := range last {
					if c := pidCPU(p); c >= l {
						l = c
					}
					sum += l - first[p]
				}
				w.done <- sum
				return
			case <-t.C:
			}
			if n%5 == 0 {
				known = pids()
			}
			for _, p := range known {
				c := pidCPU(p)
				if c == 0 {
					continue // gone
				}
				if _, seen := first[p]; !seen {
					first[p] = 0
				}
				if c > last[p] {
					last[p] = c
				}
			}
		}
	}()
	return w
}

func (w *backendWatch) stop() time.Duration {
	close(w.stopc)
	return <-w.done
}

func pidCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// tupleCounts are the rows written and read in the database so far: in
// all of it (the members' store included), and in the cluster's tables.
func tupleCounts(b *testing.B, db *pgx.Conn, name string) (written, read, clusterWritten, clusterRead int64) {
	ctx := context.Background()
	if err := db.QueryRow(ctx, `SELECT tup_inserted + tup_updated + tup_deleted, tup_returned + tup_fetched
		FROM pg_stat_database WHERE datname = $1`, name).Scan(&written, &read); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint,
		COALESCE(sum(COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0)), 0)::bigint
		FROM pg_stat_user_tables WHERE relname LIKE 'cluster\_%'`).Scan(&clusterWritten, &clusterRead); err != nil {
		b.Fatal(err)
	}
	return written, read, clusterWritten, clusterRead
}

type clusterStatus struct {
	Leader string `json:"leader"`
}

func clusterStatusOf(p *proc) (clusterStatus, error) {
	var s clusterStatus
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.URL + "status/cluster")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /status/cluster: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// leaderOf is the index of the member every member names as leader, or -1.
func leaderOf(members []*proc) int {
	leader := ""
	for _, m := range members {
		s, err := clusterStatusOf(m)
		if err != nil || s.Leader == "" || (leader != "" && s.Leader != leader) {
			return -1
		}
		leader = s.Leader
	}
	i, err := strconv.Atoi(strings.TrimPrefix(leader, "m"))
	if err != nil || i < 2 || i-2 >= len(members) {
		return -1
	}
	return i - 2
}
