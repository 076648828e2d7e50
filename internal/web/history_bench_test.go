package web

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// BenchmarkHistoryPage fills a SQLite store with 90 days of 1000 poll
// replicas (10 services × 10 nodes × 10 replicas) probed every 60 s, prunes
// it, and measures what a page with history costs: reading the history into
// memory (history-load-ms, once a minute at most) and rendering the page
// from it (ns/op; page views in between are cache hits). It reports the
// database size after retention.
//
//	go test -run '^$' -bench HistoryPage -benchtime 20x ./internal/web/
//
// Writing 130 million samples through AddSamples would take over an hour,
// so the buckets they roll up into are inserted in bulk with SQL: one hour
// bucket per replica and hour for 91 days (60 checks each) and one minute
// bucket per replica and minute for the last 49 hours, and the day buckets
// summed from the hours. Prune then drops what retention (48 h of minutes,
// 90 days of hours) does not keep. Each node also has a 10-minute outage a
// day, recorded as status changes.
func BenchmarkHistoryPage(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "vigil.db")
	st, err := store.Open(ctx, store.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2031, 3, 4, 9, 3, 1, 0, time.UTC)
	end := now.Truncate(time.Minute)
	const services, nodes, replicas = 10, 10, 10

	setup := time.Now()
	var batch []store.Sample
	var svcs []status.Service
	for s := range services {
		svc := status.Service{ID: fmt.Sprintf("svc%d", s), Label: fmt.Sprintf("Service %d", s)}
		for n := range nodes {
			node := status.Node{ID: fmt.Sprintf("node%d", n), Label: fmt.Sprintf("Node %d", n), Mode: status.Poll}
			for r := range replicas {
				id := fmt.Sprintf("http://10.%d.%d.%d/health", s, n, r)
				node.Replicas = append(node.Replicas, status.Replica{ID: id, Health: status.Healthy, HasLatency: true, Latency: 20 * time.Millisecond})
				batch = append(batch, store.Sample{Time: end, Service: svc.ID, Node: node.ID, Replica: id,
					Health: status.Healthy, Latency: 20 * time.Millisecond, HasLatency: true})
			}
			svc.Nodes = append(svc.Nodes, node)
		}
		svcs = append(svcs, svc)
	}
	// Creates the 1000 series (and the current minute's buckets).
	if err := st.AddSamples(ctx, batch); err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fill := func(table string, width time.Duration, count int, checks int) {
		first := end.Truncate(width).Add(-time.Duration(count) * width)
		// Latencies vary by replica and bucket so that the sparkline has a shape.
		q := fmt.Sprintf(`WITH RECURSIVE t(start_ms) AS (SELECT %d UNION ALL SELECT start_ms + %d FROM t WHERE start_ms + %d < %d)
			INSERT INTO %s (series_id, start_ms, healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns)
			SELECT s.id, t.start_ms, %d, 0, 0, %d, 15000000, 45000000, %d * (15000000 + ((s.id * 7 + t.start_ms / %d) %% 30) * 1000000)
			FROM series s CROSS JOIN t WHERE true
			ON CONFLICT DO NOTHING`,
			first.UnixMilli(), width.Milliseconds(), width.Milliseconds(), end.Truncate(width).UnixMilli(),
			table, checks, checks, checks, width.Milliseconds())
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	fill("hour_buckets", time.Hour, 91*24, 60)
	fill("minute_buckets", time.Minute, 49*60, 1)
	// The day buckets are the sums of the hours, as the store writes them.
	if _, err := db.ExecContext(ctx, `INSERT INTO day_buckets (series_id, start_ms, healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns)
		SELECT series_id, start_ms - start_ms % 86400000, SUM(healthy), SUM(sick), SUM(dead), SUM(lat_count),
			MIN(lat_min_ns), MAX(lat_max_ns), SUM(lat_sum_ns)
		FROM hour_buckets GROUP BY series_id, start_ms - start_ms % 86400000
		ON CONFLICT (series_id, start_ms) DO UPDATE SET healthy = excluded.healthy, sick = excluded.sick,
			dead = excluded.dead, lat_count = excluded.lat_count, lat_min_ns = excluded.lat_min_ns,
			lat_max_ns = excluded.lat_max_ns, lat_sum_ns = excluded.lat_sum_ns`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO running (instance, start_ms, end_ms) VALUES ('bench', $1, $2)`,
		end.Add(-91*24*time.Hour).UnixMilli(), now.UnixMilli()); err != nil {
		b.Fatal(err)
	}
	var changes []store.Change
	for s := range services {
		for n := range nodes {
			svc, node := fmt.Sprintf("svc%d", s), fmt.Sprintf("node%d", n)
			for d := range 91 {
				at := end.Add(-time.Duration(d)*24*time.Hour - time.Duration(s*nodes+n)*time.Minute)
				changes = append(changes,
					store.Change{Time: at, Level: store.LevelNode, Service: svc, Node: node, From: status.Healthy, To: status.Dead},
					store.Change{Time: at.Add(10 * time.Minute), Level: store.LevelNode, Service: svc, Node: node, From: status.Dead, To: status.Healthy})
			}
		}
	}
	if err := st.RecordChanges(ctx, changes...); err != nil {
		b.Fatal(err)
	}
	pruned, err := st.Prune(ctx, now)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	size := fileSize(b, path) + fileSize(b, path+"-wal")
	b.Logf("setup %v; pruned %+v; database %d bytes", time.Since(setup).Round(time.Millisecond), pruned, size)

	src := &testkit.Source{}
	health, dead := status.Rollup(svcs)
	src.Store(&status.Snapshot{Version: 1, Health: health, Refreshed: now, Services: svcs, Dead: dead})
	cfg := testConfig(b)
	loadStart, loadCPU := time.Now(), processCPU()
	s, err := New(context.Background(), Options{Config: cfg, Source: src, Store: st, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	load, cpu := time.Since(loadStart), processCPU()-loadCPU
	page := s.renderPage(s.pageKey())
	if page.err != nil {
		b.Fatal(page.err)
	}
	for b.Loop() {
		// Render as a cache miss would: the template and the gzip copy.
		s.renderPage(s.pageKey())
	}
	b.ReportMetric(float64(size), "db-bytes")
	b.ReportMetric(float64(load.Milliseconds()), "history-load-ms")
	b.ReportMetric(float64(cpu.Milliseconds()), "history-load-cpu-ms")
	b.ReportMetric(float64(len(page.body)), "page-bytes")
	b.ReportMetric(float64(len(page.gzipped)), "page-gzip-bytes")
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// processCPU returns the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
