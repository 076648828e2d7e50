package store

// Samples and buckets. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

type seriesKey struct{ service, node, replica string }

type bucketKey struct {
	series seriesKey
	start  int64
}

type bucketRow struct {
	series int64
	start  int64
	b      Bucket
}

// Bucket tables and their widths.
const (
	minuteTable = "minute_buckets"
	hourTable   = "hour_buckets"
	// dayTable holds UTC days, the days of the page's 90-day bar (Days,
	// NodeHistories): the bar's days start at UTC midnights whatever time
	// zone the page writes times in.
	dayTable = "day_buckets"
)

// AddSamples adds samples to their per-minute, per-hour and per-day buckets, all in
// one transaction: either every sample is counted or none is. The samples may
// come in any order and span any number of replicas and buckets.
func (s *Store) AddSamples(ctx context.Context, samples []Sample) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var batch SampleBatch
	for _, x := range samples {
		if err := batch.Add(x); err != nil {
			return fmt.Errorf("add samples: %w", err)
		}
	}
	return s.AddBatch(ctx, &batch)
}

// AddBatch adds the batch's buckets to the stored ones, in one transaction:
// either every sample is counted or none is. The batch is left as it was.
func (s *Store) AddBatch(ctx context.Context, batch *SampleBatch) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	minutes, hours := batch.minutes, batch.hours
	if len(minutes) == 0 && len(hours) == 0 {
		return nil
	}
	days := daysOf(hours)
	var created map[seriesKey]int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		ids, fresh, err := s.seriesIDs(ctx, tx, minutes, hours)
		if err != nil {
			return err
		}
		created = fresh
		if err := s.upsertBuckets(ctx, tx, minuteTable, ids, minutes); err != nil {
			return err
		}
		if err := s.upsertBuckets(ctx, tx, hourTable, ids, hours); err != nil {
			return err
		}
		return s.upsertBuckets(ctx, tx, dayTable, ids, days)
	})
	if err != nil {
		return fmt.Errorf("add samples: %w", err)
	}
	// Only ids of committed rows may be remembered.
	s.mu.Lock()
	for k, id := range created {
		s.series[k] = id
	}
	s.mu.Unlock()
	return nil
}

// daysOf sums hour buckets into the UTC days they fall in. The day buckets
// are made from the hour buckets, in the transaction that writes these, so
// that a day is always the sum of its hours.
func daysOf(hours map[bucketKey]*Bucket) map[bucketKey]*Bucket {
	days := make(map[bucketKey]*Bucket, len(hours))
	for k, b := range hours {
		fold(days, bucketKey{k.series, dayStart(k.start)}, *b)
	}
	return days
}

// dayStart returns the UTC midnight that starts the day of the stored time t.
func dayStart(t int64) int64 { return ms(fromMS(t).Truncate(24 * time.Hour)) }

// seriesIDs returns the id of every series the buckets use, creating the
// missing ones in tx. fresh holds the ids this call had to look up.
func (s *Store) seriesIDs(ctx context.Context, tx *sql.Tx, buckets ...map[bucketKey]*Bucket) (ids, fresh map[seriesKey]int64, err error) {
	ids = make(map[seriesKey]int64)
	var missing []seriesKey
	s.mu.Lock()
	for _, m := range buckets {
		for k := range m {
			if _, ok := ids[k.series]; ok {
				continue
			}
			if id, ok := s.series[k.series]; ok {
				ids[k.series] = id
			} else {
				ids[k.series] = 0
				missing = append(missing, k.series)
			}
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return ids, nil, nil
	}
	// A fixed order keeps concurrent PostgreSQL writers from deadlocking.
	slices.SortFunc(missing, func(a, b seriesKey) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.node, b.node), cmp.Compare(a.replica, b.replica))
	})
	fresh = make(map[seriesKey]int64, len(missing))
	for _, k := range missing {
		if _, err := tx.ExecContext(ctx, `INSERT INTO series (service, node, replica) VALUES ($1, $2, $3)
			ON CONFLICT (service, node, replica) DO NOTHING`, k.service, k.node, k.replica); err != nil {
			return nil, nil, err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM series WHERE service = $1 AND node = $2 AND replica = $3`,
			k.service, k.node, k.replica).Scan(&id); err != nil {
			return nil, nil, err
		}
		ids[k], fresh[k] = id, id
	}
	return ids, fresh, nil
}

// upsertChunk is how many buckets one INSERT carries: 9 parameters each stays
// far below both databases' parameter limits.
const upsertChunk = 200

// upsertBuckets adds the buckets to table, merging them into existing rows.
// Rows go in key order so that concurrent writers lock them in the same order.
func (s *Store) upsertBuckets(ctx context.Context, tx *sql.Tx, table string, ids map[seriesKey]int64, buckets map[bucketKey]*Bucket) error {
	rows := make([]bucketRow, 0, len(buckets))
	for k, b := range buckets {
		rows = append(rows, bucketRow{ids[k.series], k.start, *b})
	}
	slices.SortFunc(rows, func(a, b bucketRow) int {
		return cmp.Or(cmp.Compare(a.series, b.series), cmp.Compare(a.start, b.start))
	})
	// In ON CONFLICT DO UPDATE, the table name refers to the stored row and
	// "excluded" to the new one; every expression sees the stored row as it
	// was before the update.
	merge := strings.NewReplacer("T.", table+".").Replace(` ON CONFLICT (series_id, start_ms) DO UPDATE SET
		healthy = T.healthy + excluded.healthy,
		sick = T.sick + excluded.sick,
		dead = T.dead + excluded.dead,
		lat_min_ns = CASE WHEN excluded.lat_count = 0 THEN T.lat_min_ns
			WHEN T.lat_count = 0 OR excluded.lat_min_ns < T.lat_min_ns THEN excluded.lat_min_ns
			ELSE T.lat_min_ns END,
		lat_max_ns = CASE WHEN excluded.lat_count = 0 THEN T.lat_max_ns
			WHEN T.lat_count = 0 OR excluded.lat_max_ns > T.lat_max_ns THEN excluded.lat_max_ns
			ELSE T.lat_max_ns END,
		lat_count = T.lat_count + excluded.lat_count,
		lat_sum_ns = T.lat_sum_ns + excluded.lat_sum_ns`)
	for chunk := range slices.Chunk(rows, upsertChunk) {
		var q strings.Builder
		q.WriteString(`INSERT INTO ` + table +
			` (series_id, start_ms, healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns) VALUES `)
		args := make([]any, 0, len(chunk)*9)
		for i, r := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for j := range 9 {
				if j > 0 {
					q.WriteByte(',')
				}
				q.WriteString(s.placeholder(len(args) + j + 1))
			}
			q.WriteByte(')')
			args = append(args, r.series, r.start, r.b.Healthy, r.b.Sick, r.b.Dead, r.b.LatencyCount,
				int64(r.b.LatencyMin), int64(r.b.LatencyMax), int64(r.b.LatencySum))
		}
		q.WriteString(merge)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}

// MinuteBuckets returns the per-minute buckets of key that start in
// [since, until), oldest first. Minutes without samples are left out.
func (s *Store) MinuteBuckets(ctx context.Context, key SeriesKey, since, until time.Time) ([]Bucket, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b, err := s.buckets(ctx, minuteTable, key, since, until)
	if err != nil {
		return nil, fmt.Errorf("minute buckets: %w", err)
	}
	return b, nil
}

// HourBuckets returns the per-hour buckets of key that start in
// [since, until), oldest first. Hours without samples are left out.
func (s *Store) HourBuckets(ctx context.Context, key SeriesKey, since, until time.Time) ([]Bucket, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	b, err := s.buckets(ctx, hourTable, key, since, until)
	if err != nil {
		return nil, fmt.Errorf("hour buckets: %w", err)
	}
	return b, nil
}

func (s *Store) buckets(ctx context.Context, table string, key SeriesKey, since, until time.Time) ([]Bucket, error) {
	if key.Service == "" || (key.Replica != "" && key.Node == "") {
		return nil, fmt.Errorf("series %+v: %w", key, ErrInvalid)
	}
	var w where
	w.add("s.service = ?", key.Service)
	if key.Node != "" {
		w.add("s.node = ?", key.Node)
	}
	if key.Replica != "" {
		w.add("s.replica = ?", key.Replica)
	}
	w.add("b.start_ms >= ?", ms(since))
	w.add("b.start_ms < ?", upper(until))
	rows, err := s.r.QueryContext(ctx, `SELECT b.start_ms,
		CAST(SUM(b.healthy) AS BIGINT), CAST(SUM(b.sick) AS BIGINT), CAST(SUM(b.dead) AS BIGINT),
		CAST(SUM(b.lat_count) AS BIGINT),
		MIN(CASE WHEN b.lat_count > 0 THEN b.lat_min_ns END),
		MAX(CASE WHEN b.lat_count > 0 THEN b.lat_max_ns END),
		CAST(SUM(b.lat_sum_ns) AS BIGINT)
		FROM `+table+` b JOIN series s ON s.id = b.series_id`+w.String()+`
		GROUP BY b.start_ms ORDER BY b.start_ms`, w.args...)
	return scanBuckets(nil, rows, err)
}
