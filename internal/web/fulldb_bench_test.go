package web

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/pgtest"
	"github.com/vigil-go/vigil/internal/testkit"
)

// BenchmarkFullDatabase measures a store holding everything retention keeps
// (90 days of hour buckets, 48 h of minute buckets, status changes and
// incidents) for 1000 and 5000 replicas (10 per node), on SQLite and on
// PostgreSQL (skipped when the test server does not answer). ns/op is one
// history refresh, as the page makes at most once a minute; the rest is
// reported as metrics:
//
//   - db-bytes, bytes/replica-day: the live size after retention (SQLite:
//     pages in use; PostgreSQL: the tables and their indexes), per replica
//     and day of the 90 kept. The per-table split is logged.
//
//   - startup-ms: opening the store, web.New (which reads the history) and
//     the first page render, in this process with the database in the OS
//     cache (the fill just wrote it).
//
//   - refresh-cpu-ms: CPU of one refresh: this process plus, on PostgreSQL,
//     the server processes of the benchmark's database.
//
//   - render-ms, history-json-us, history-days-us: the page render (template
//     and gzip, as a cache miss), GET /status/history/{service}/{node} and
//     its /days page, medians.
//
//   - prune-ms, write-stall-ms: an hourly Prune (an hour later than the
//     fill: one hour of minute and hour buckets, and the day it cuts), and
//     the longest AddSamples of 100 samples while it runs; write-ms is the
//     median AddSamples without a prune, for comparison.
//
//     go test -run '^$' -bench FullDatabase -benchtime 3x -timeout 30m ./internal/web/
//
// The buckets are inserted in bulk with SQL, as in BenchmarkHistoryPage
// (writing the samples through AddSamples would take hours), and the fill
// is left out of every figure. Each node has a 10-minute outage a day, each
// replica a 5-minute one a week (status changes), and there is one resolved
// incident a day.
func BenchmarkFullDatabase(b *testing.B) {
	for _, driver := range []string{store.SQLite, store.Postgres} {
		for _, replicas := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("store=%s/replicas=%d", driver, replicas), func(b *testing.B) {
				benchFullDatabase(b, driver, replicas)
			})
		}
	}
}

// fullDB is a filled database and how to reach it outside the store.
type fullDB struct {
	cfg    store.Config
	raw    *sql.DB // for the fill and the size
	dbName string  // PostgreSQL database
}

func benchFullDatabase(b *testing.B, driver string, replicas int) {
	ctx := context.Background()
	var db fullDB
	switch driver {
	case store.SQLite:
		db.cfg = store.Config{Driver: store.SQLite, Path: filepath.Join(b.TempDir(), "vigil.db")}
	case store.Postgres:
		url, name, _ := pgtest.FreshDatabase(b)
		db.cfg, db.dbName = store.Config{Driver: store.Postgres, URL: url}, name
	}
	now := time.Date(2031, 3, 4, 9, 3, 1, 0, time.UTC)
	svcs := fullServices(replicas, now)
	st, err := store.Open(ctx, db.cfg)
	if err != nil {
		b.Fatal(err)
	}
	fillStart := time.Now()
	db.fill(b, st, svcs, now)
	// The first prune drops the 91st day and the 49th hour the fill wrote.
	if _, err := st.Prune(ctx, now); err != nil {
		b.Fatal(err)
	}
	size := db.size(b)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("fill and first prune %v", time.Since(fillStart).Round(time.Millisecond))

	src := &testkit.Source{}
	health, dead := status.Rollup(svcs)
	src.Store(&status.Snapshot{Version: 1, Health: health, Refreshed: now, Services: svcs, Dead: dead})
	cfg := testConfig(b)
	clock := func() time.Time { return now }

	// Start-up: open, read the history, render the page.
	start := time.Now()
	st, err = store.Open(ctx, db.cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := New(ctx, Options{Config: cfg, Source: src, Store: st, Logger: slog.New(slog.DiscardHandler), Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	if page := s.renderPage(s.pageKey()); page.err != nil {
		b.Fatal(page.err)
	}
	startup := time.Since(start)

	// History refreshes.
	var refreshes int
	cpu, dbCPU := processCPU(), db.serverCPU(b)
	for b.Loop() {
		if err := s.data.reloadHistory(ctx); err != nil {
			b.Fatal(err)
		}
		refreshes++
	}
	cpu, dbCPU = processCPU()-cpu, db.serverCPU(b)-dbCPU

	render := medianOf(5, func() {
		if page := s.renderPage(s.pageKey()); page.err != nil {
			b.Fatal(page.err)
		}
	})
	node := svcs[len(svcs)/2].ID + "/" + svcs[len(svcs)/2].Nodes[3].ID
	get := func(path string) func() {
		return func() {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			if w.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
			}
		}
	}
	historyJSON := medianOf(21, get("/status/history/"+node))
	historyDays := medianOf(21, get("/status/history/"+node+"/days"))

	pruneTook, stall, write := pruneWhileWriting(b, st, svcs, now)

	b.ReportMetric(float64(size), "db-bytes")
	b.ReportMetric(float64(size)/float64(replicas*90), "bytes/replica-day")
	b.ReportMetric(ms(startup), "startup-ms")
	b.ReportMetric(ms((cpu+dbCPU)/time.Duration(refreshes)), "refresh-cpu-ms")
	b.ReportMetric(ms(render), "render-ms")
	b.ReportMetric(float64(historyJSON.Microseconds()), "history-json-us")
	b.ReportMetric(float64(historyDays.Microseconds()), "history-days-us")
	b.ReportMetric(ms(pruneTook), "prune-ms")
	b.ReportMetric(ms(stall), "write-stall-ms")
	b.ReportMetric(ms(write), "write-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medianOf runs fn n times and returns the median duration.
func medianOf(n int, fn func()) time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		fn()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2]
}

// fullServices returns replicas/10 poll nodes of 10 replicas, 10 nodes a
// service.
func fullServices(replicas int, now time.Time) []status.Service {
	var svcs []status.Service
	for i := range replicas / 10 {
		if i%10 == 0 {
			svcs = append(svcs, status.Service{ID: fmt.Sprintf("svc%d", i/10), Label: fmt.Sprintf("Service %d", i/10)})
		}
		svc := &svcs[len(svcs)-1]
		node := status.Node{ID: fmt.Sprintf("node%d", i%10), Label: fmt.Sprintf("Node %d", i%10), Mode: status.Poll}
		for r := range 10 {
			node.Replicas = append(node.Replicas, status.Replica{ID: fmt.Sprintf("http://10.%d.%d.%d/health", i/100, i%100, r),
				Health: status.Healthy, HasLatency: true, Latency: 20 * time.Millisecond, Checked: now})
		}
		svc.Nodes = append(svc.Nodes, node)
	}
	return svcs
}

// fill writes the history of svcs up to now: samples through the store for
// the series ids, then everything else in bulk.
func (db *fullDB) fill(b *testing.B, st *store.Store, svcs []status.Service, now time.Time) {
	ctx := context.Background()
	end := now.Truncate(time.Minute)
	var batch []store.Sample
	for _, svc := range svcs {
		for _, node := range svc.Nodes {
			for _, r := range node.Replicas {
				batch = append(batch, store.Sample{Time: end, Service: svc.ID, Node: node.ID, Replica: r.ID,
					Health: status.Healthy, Latency: 20 * time.Millisecond, HasLatency: true})
			}
		}
	}
	if err := st.AddSamples(ctx, batch); err != nil { // creates the series
		b.Fatal(err)
	}
	var err error
	switch db.cfg.Driver {
	case store.SQLite:
		db.raw, err = sql.Open("sqlite", db.cfg.Path)
	case store.Postgres:
		db.raw, err = sql.Open("pgx", db.cfg.URL)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.raw.Close() })
	if db.cfg.Driver == store.SQLite {
		// One connection with a page cache that holds the start indexes:
		// the fill inserts into them in no order, and with the default
		// 2 MB cache 5000 replicas took many minutes.
		db.raw.SetMaxOpenConns(1)
		if _, err := db.raw.ExecContext(ctx, `PRAGMA cache_size = -1000000`); err != nil {
			b.Fatal(err)
		}
	}
	exec := func(q string, args ...any) {
		if _, err := db.raw.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
	}
	// t(v): first, first+step, … below end. Both databases run it.
	series := func(first, step, end int64) string {
		return fmt.Sprintf(`WITH RECURSIVE t(v) AS (SELECT CAST(%d AS BIGINT) UNION ALL SELECT v + %d FROM t WHERE v + %d < %d) `,
			first, step, step, end)
	}
	buckets := func(table string, width time.Duration, count, checks int) {
		first := end.Truncate(width).Add(-time.Duration(count) * width)
		// Latencies vary by replica and bucket so that the sparkline has a shape.
		exec(series(first.UnixMilli(), width.Milliseconds(), end.Truncate(width).UnixMilli()) + fmt.Sprintf(`
			INSERT INTO %s (series_id, start_ms, healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns)
			SELECT s.id, t.v, %d, 0, 0, %d, 15000000, 45000000, %d * (15000000 + ((s.id * 7 + t.v / %d) %% 30) * 1000000)
			FROM series s CROSS JOIN t WHERE true
			ON CONFLICT DO NOTHING`, table, checks, checks, checks, width.Milliseconds()))
	}
	buckets("hour_buckets", time.Hour, 91*24, 60)
	buckets("minute_buckets", time.Minute, 49*60, 1)
	// Day buckets, where the schema has them, are the sums of the hours,
	// as the store writes them.
	var days int
	if err := db.raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version WHERE name = 'day_buckets'`).Scan(&days); err != nil {
		b.Fatal(err)
	}
	if days > 0 {
		exec(`INSERT INTO day_buckets (series_id, start_ms, healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns)
			SELECT series_id, start_ms - start_ms % 86400000, SUM(healthy), SUM(sick), SUM(dead), SUM(lat_count),
				MIN(lat_min_ns), MAX(lat_max_ns), SUM(lat_sum_ns)
			FROM hour_buckets GROUP BY series_id, start_ms - start_ms % 86400000
			ON CONFLICT (series_id, start_ms) DO UPDATE SET healthy = excluded.healthy, sick = excluded.sick,
				dead = excluded.dead, lat_count = excluded.lat_count, lat_min_ns = excluded.lat_min_ns,
				lat_max_ns = excluded.lat_max_ns, lat_sum_ns = excluded.lat_sum_ns`)
	}
	exec(`INSERT INTO running (instance, start_ms, end_ms) VALUES ('bench', $1, $2)`,
		end.Add(-91*24*time.Hour).UnixMilli(), now.UnixMilli())
	// A 10-minute outage a day per node, at a time of day of its own.
	const day, week = int64(24 * time.Hour / time.Millisecond), int64(7 * 24 * time.Hour / time.Millisecond)
	first := end.Add(-91 * 24 * time.Hour).UnixMilli()
	for _, c := range []struct{ offset, from, to string }{{"0", "healthy", "dead"}, {"600000", "dead", "healthy"}} {
		exec(series(first, day, end.UnixMilli()) + `
			INSERT INTO changes (at_ms, level, service, node, replica, from_health, to_health, reason)
			SELECT t.v + (n.k % 1440) * 60000 + ` + c.offset + `, 'node', n.service, n.node, '', '` + c.from + `', '` + c.to + `', 'bench'
			FROM (SELECT service, node, MIN(id) AS k FROM series GROUP BY service, node) n CROSS JOIN t
			WHERE t.v + (n.k % 1440) * 60000 < ` + strconv.FormatInt(end.UnixMilli()-600000, 10))
		// A 5-minute one a week per replica.
		exec(series(first, week, end.UnixMilli()) + `
			INSERT INTO changes (at_ms, level, service, node, replica, from_health, to_health, reason)
			SELECT t.v + (s.id % 10080) * 60000 + ` + strings.Replace(c.offset, "600000", "300000", 1) + `, 'replica', s.service, s.node, s.replica,
				'` + c.from + `', '` + c.to + `', 'timeout'
			FROM series s CROSS JOIN t WHERE t.v + (s.id % 10080) * 60000 < ` + strconv.FormatInt(end.UnixMilli()-300000, 10))
	}
	// One resolved incident a day, on one node, with two updates.
	for d := range 91 {
		opened := end.Add(-time.Duration(d)*24*time.Hour - 3*time.Hour)
		svc := svcs[d%len(svcs)]
		node := svc.ID + ":" + svc.Nodes[d%len(svc.Nodes)].ID
		if _, err := st.OpenIncident(ctx, store.Incident{Title: fmt.Sprintf("Outage %d", d), Nodes: []string{node},
			Opened: opened, Resolved: opened.Add(40 * time.Minute), Updates: []store.IncidentUpdate{
				{Time: opened, Status: "investigating", Text: "Requests fail."},
				{Time: opened.Add(40 * time.Minute), Status: "resolved", Text: "Fixed."},
			}}); err != nil {
			b.Fatal(err)
		}
	}
}

// size returns the live size of the database, and logs it per table.
func (db *fullDB) size(b *testing.B) int64 {
	ctx := context.Background()
	var (
		total int64
		q     string
	)
	switch db.cfg.Driver {
	case store.SQLite:
		if _, err := db.raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		if err := db.raw.QueryRowContext(ctx, `SELECT (page_count - freelist_count) * page_size
			FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()`).Scan(&total); err != nil {
			b.Fatal(err)
		}
		q = `SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`
	case store.Postgres:
		if _, err := db.raw.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
		if err := db.raw.QueryRowContext(ctx, `SELECT SUM(pg_total_relation_size(c.oid))
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&total); err != nil {
			b.Fatal(err)
		}
		q = `SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i') ORDER BY 2 DESC`
	}
	rows, err := db.raw.QueryContext(ctx, q)
	if err != nil {
		b.Logf("size per table: %v", err) // SQLite without dbstat
		return total
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var (
			name string
			n    int64
		)
		if err := rows.Scan(&name, &n); err != nil {
			b.Fatal(err)
		}
		if n > 1<<20 {
			parts = append(parts, fmt.Sprintf("%s %.1f MB", name, float64(n)/1e6))
		}
	}
	b.Logf("database %d bytes: %s", total, strings.Join(parts, ", "))
	return total
}

// serverCPU returns the CPU time the PostgreSQL server processes of the
// benchmark's database have used (0 on SQLite, which runs in this process).
func (db *fullDB) serverCPU(b *testing.B) time.Duration {
	if db.cfg.Driver != store.Postgres {
		return 0
	}
	rows, err := db.raw.QueryContext(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db.dbName)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended, or on another machine
		}
		// utime and stime are fields 14 and 15, after the parenthesised name.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return total
}

// pruneWhileWriting runs the hourly prune an hour after now while a writer
// adds 100 samples at a time, and returns how long the prune took, the
// longest write during it, and the median write before it.
func pruneWhileWriting(b *testing.B, st *store.Store, svcs []status.Service, now time.Time) (took, stall, median time.Duration) {
	ctx := context.Background()
	later := now.Add(time.Hour)
	var samples []store.Sample
	for _, svc := range svcs {
		for _, node := range svc.Nodes {
			for _, r := range node.Replicas {
				if len(samples) < 100 {
					samples = append(samples, store.Sample{Time: later, Service: svc.ID, Node: node.ID, Replica: r.ID,
						Health: status.Healthy, Latency: 20 * time.Millisecond, HasLatency: true})
				}
			}
		}
	}
	write := func() time.Duration {
		start := time.Now()
		if err := st.AddSamples(ctx, samples); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	median = medianOf(21, func() { write() })

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			stall = max(stall, write())
		}
	}()
	time.Sleep(20 * time.Millisecond) // the writer is going
	start := time.Now()
	p, err := st.Prune(ctx, later)
	took = time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("hourly prune %v: %+v", took.Round(time.Millisecond), p)
	return took, stall, median
}
