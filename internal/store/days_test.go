package store

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

func TestDayBucketsSQLite(t *testing.T) { testDayBuckets(t, freshSQLite) }

func TestDayBucketsPostgres(t *testing.T) {
	freshPostgres(t) // fail or skip once, here, if the server is missing
	testDayBuckets(t, freshPostgres)
}

func testDayBuckets(t *testing.T, fresh func(testing.TB) Config) {
	for name, fn := range map[string]func(*testing.T, func(testing.TB) Config){
		"Writes":           testDayBucketsWrites,
		"Migration":        testDayBucketsMigration,
		"PruneWhileWrites": testPruneWhileWrites,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, fresh)
		})
	}
}

// rawBuckets reads every row of a bucket table, keyed by series and start.
func rawBuckets(t *testing.T, s *Store, table string) map[[2]int64]Bucket {
	t.Helper()
	rows, err := s.r.QueryContext(ctx, `SELECT series_id, start_ms, healthy, sick, dead,
		lat_count, lat_min_ns, lat_max_ns, lat_sum_ns FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[[2]int64]Bucket{}
	for rows.Next() {
		var (
			k           [2]int64
			b           Bucket
			lo, hi, sum int64
		)
		if err := rows.Scan(&k[0], &k[1], &b.Healthy, &b.Sick, &b.Dead, &b.LatencyCount, &lo, &hi, &sum); err != nil {
			t.Fatal(err)
		}
		b.LatencyMin, b.LatencyMax, b.LatencySum = time.Duration(lo), time.Duration(hi), time.Duration(sum)
		out[k] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkDaysAreHours fails unless every day bucket is the sum of the hour
// buckets of its series and UTC day, and there is no other day bucket.
func checkDaysAreHours(t *testing.T, s *Store, when string) {
	t.Helper()
	want := map[[2]int64]Bucket{}
	for k, h := range rawBuckets(t, s, hourTable) {
		day := [2]int64{k[0], time.UnixMilli(k[1]).UTC().Truncate(24 * time.Hour).UnixMilli()}
		sum := want[day]
		sum.add(h)
		want[day] = sum
	}
	got := rawBuckets(t, s, dayTable)
	if !maps.Equal(got, want) {
		t.Errorf("%s: %d day buckets, want the sums of the hour buckets (%d days)", when, len(got), len(want))
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: day %d of series %d = %+v, want %+v", when, k[1], k[0], got[k], w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: day %d of series %d = %+v, without hour buckets", when, k[1], k[0], g)
			}
		}
	}
}

// daySamples returns samples of several replicas spread over four days,
// around midnights, in every health, some without latency.
func daySamples(start time.Time) []Sample {
	var out []Sample
	for i := range 400 {
		tm := start.Add(time.Duration(i) * 17 * time.Minute)
		out = append(out, Sample{Time: tm, Service: "web", Node: fmt.Sprintf("n%d", i%2), Replica: fmt.Sprintf("r%d", i%3),
			Health: status.Health(i % 3), Latency: time.Duration(i%11) * time.Millisecond, HasLatency: i%5 != 0})
	}
	return out
}

func testDayBucketsWrites(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	start := t0.Add(-3 * time.Hour) // the evening before a midnight
	samples := daySamples(start)
	// Written in three calls, so that days are merged with stored ones.
	for _, part := range [][]Sample{samples[:150], samples[150:151], samples[151:]} {
		if err := s.AddSamples(ctx, part); err != nil {
			t.Fatal(err)
		}
	}
	var batch SampleBatch
	for _, x := range daySamples(start.Add(30 * time.Minute)) {
		if err := batch.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddBatch(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	checkDaysAreHours(t, s, "after writes")
	if n := len(rawBuckets(t, s, dayTable)); n != 6*6 { // 6 replicas, days t0-1 to t0+4
		t.Errorf("%d day buckets, want 36", n)
	}

	// Days, which reads them, counts every sample of the node's days.
	days, err := s.Days(ctx, "web", "n0", start, start.Add(5*24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	var checks int64
	for _, d := range days {
		checks += d.Checks
	}
	if checks != 400 { // half of 2 × 400
		t.Errorf("Days counts %d checks of n0, want 400", checks)
	}

	// Retention cuts the third day in two: its day buckets lose the hours
	// before the cutoff, the first two days go.
	s.retention.Hours = 48 * time.Hour
	now := t0.Add(24*time.Hour + 7*time.Hour + 48*time.Hour)
	p, err := s.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Hours == 0 || p.Days != 12 {
		t.Errorf("Prune = %+v, want hours and 12 days (the first two of each replica) deleted", p)
	}
	checkDaysAreHours(t, s, "after prune")
	cut := t0.Add(24 * time.Hour).UnixMilli()
	for k := range rawBuckets(t, s, dayTable) {
		if k[1] < cut {
			t.Errorf("day %d of series %d kept; the prune's cutoff is after it", k[1], k[0])
		}
	}
}

func testDayBucketsMigration(t *testing.T, fresh func(testing.TB) Config) {
	cfg := fresh(t)
	s := open(t, cfg)
	if err := s.AddSamples(ctx, daySamples(t0.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before day buckets, hour buckets kept.
	for _, q := range []string{`DROP TABLE day_buckets`, `DELETE FROM schema_version WHERE version >= 4`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, cfg)
	if n := len(rawBuckets(t, s, dayTable)); n == 0 {
		t.Fatal("the migration wrote no day bucket")
	}
	checkDaysAreHours(t, s, "after the migration")
}

// testPruneWhileWrites prunes a store full enough for Prune to delete in
// several batches while samples keep coming, and checks that both finish:
// the prune deletes what retention says, and every write is kept.
func testPruneWhileWrites(t *testing.T, fresh func(testing.TB) Config) {
	cfg := fresh(t)
	cfg.Retention = Retention{Minutes: 2 * time.Hour, Hours: 30 * time.Hour}
	s := open(t, cfg)
	now := t0.Add(4 * 24 * time.Hour).Add(9*time.Hour + 30*time.Minute)
	const replicas = 40
	var batch SampleBatch
	add := func(tm time.Time, r int) {
		if err := batch.Add(Sample{Time: tm, Service: "web", Node: "a", Replica: fmt.Sprintf("r%d", r),
			Health: status.Healthy, Latency: time.Millisecond, HasLatency: true}); err != nil {
			t.Fatal(err)
		}
	}
	for r := range replicas {
		for tm := now.Add(-6 * time.Hour); tm.Before(now); tm = tm.Add(time.Minute) {
			add(tm, r) // 4 h of them, 9600 minute buckets, to prune
		}
		for tm := now.Add(-3 * 24 * time.Hour); tm.Before(now.Add(-6 * time.Hour)); tm = tm.Add(time.Hour) {
			add(tm, r)
		}
	}
	if err := s.AddBatch(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	count := func(table string, before time.Time) (n int) {
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE start_ms < $1`, before.UnixMilli()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	wantMinutes := count(minuteTable, now.Add(-cfg.Retention.Minutes))
	wantHours := count(hourTable, now.Add(-cfg.Retention.Hours))
	if wantMinutes <= pruneBatch {
		t.Fatalf("%d minute buckets to prune: not enough for several batches", wantMinutes)
	}

	// A writer adds samples of the current minute until the prune is done.
	done := make(chan struct{})
	var (
		wg      sync.WaitGroup
		written int64
		werr    error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if werr = s.AddSamples(ctx, []Sample{{Time: now, Service: "web", Node: "w", Replica: "w",
				Health: status.Healthy}}); werr != nil {
				return
			}
			written++
		}
	}()
	p, err := s.Prune(ctx, now)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if werr != nil {
		t.Fatalf("write during the prune: %v", werr)
	}
	if p.Minutes != int64(wantMinutes) || p.Hours != int64(wantHours) {
		t.Errorf("Prune = %+v, want %d minute and %d hour buckets deleted", p, wantMinutes, wantHours)
	}
	if n := count(minuteTable, now.Add(-cfg.Retention.Minutes)) + count(hourTable, now.Add(-cfg.Retention.Hours)); n != 0 {
		t.Errorf("%d buckets older than retention left", n)
	}
	got, err := s.MinuteBuckets(ctx, SeriesKey{Service: "web", Node: "w"}, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if written > 0 && (len(got) != 1 || got[0].Checks() != written) {
		t.Errorf("the writer's minute = %+v, want %d checks", got, written)
	}
	checkDaysAreHours(t, s, "after the prune")
}
