package store

// Retention. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Prune deletes what the retention settings no longer keep, as of now:
// minute buckets older than Retention.Minutes, hour buckets older than
// Retention.Hours with the day buckets made of them (a day the cutoff cuts
// in two is summed again from the hour buckets it keeps), status changes older than Retention.Changes (except the
// latest of each replica, node, service and of the page), running intervals
// that ended before the longer of Retention.Changes and Retention.Hours,
// resolved incidents and ended maintenance windows older than
// Retention.Incidents, and delivered or given-up outbox entries older than
// Retention.Outbox. The daemon runs it periodically (hourly is plenty).
// Large deletions go in batches of a few thousand rows, each its own
// transaction, so that other writers are not held up: SQLite has one writer.
func (s *Store) Prune(ctx context.Context, now time.Time) (Pruned, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var p Pruned
	r := s.retention
	cutoff := func(keep time.Duration) (int64, bool) { return ms(now.Add(-keep)), keep > 0 }
	steps := []struct {
		n    *int64
		keep time.Duration
		run  func(before int64) (int64, error)
	}{
		{&p.Minutes, r.Minutes, func(before int64) (int64, error) {
			return s.deleteInBatches(ctx, minuteTable, before)
		}},
		{&p.Hours, r.Hours, func(before int64) (int64, error) {
			return s.deleteInBatches(ctx, hourTable, before)
		}},
		{&p.Days, r.Hours, func(before int64) (int64, error) {
			return s.pruneDays(ctx, before)
		}},
		{&p.Changes, r.Changes, func(before int64) (int64, error) {
			return s.exec(ctx, `DELETE FROM changes WHERE at_ms < $1 AND EXISTS (SELECT 1 FROM changes n
				WHERE n.service = changes.service AND n.node = changes.node
				AND n.level = changes.level AND n.replica = changes.replica
				AND (n.at_ms > changes.at_ms OR (n.at_ms = changes.at_ms AND n.id > changes.id)))`, before)
		}},
		{&p.Running, runningRetention(r), func(before int64) (int64, error) {
			return s.exec(ctx, `DELETE FROM running WHERE end_ms < $1`, before)
		}},
		{&p.Incidents, r.Incidents, func(before int64) (int64, error) {
			return s.exec(ctx, `DELETE FROM incidents WHERE resolved_ms IS NOT NULL AND resolved_ms < $1`, before)
		}},
		{&p.Maintenance, r.Incidents, func(before int64) (int64, error) {
			return s.exec(ctx, `DELETE FROM maintenance WHERE end_ms < $1`, before)
		}},
		{&p.Outbox, r.Outbox, func(before int64) (int64, error) {
			return s.exec(ctx, `DELETE FROM outbox WHERE state <> 'pending' AND done_ms < $1`, before)
		}},
	}
	for _, st := range steps {
		before, ok := cutoff(st.keep)
		if !ok {
			continue
		}
		n, err := st.run(before)
		*st.n += n
		if err != nil {
			return p, fmt.Errorf("prune: %w", err)
		}
	}
	return p, nil
}

// runningRetention keeps running intervals as long as the history that
// needs them: changes and hour buckets.
func runningRetention(r Retention) time.Duration {
	if r.Changes < 0 || r.Hours < 0 {
		return -1
	}
	return max(r.Changes, r.Hours)
}

// exec runs one write statement and returns the number of rows it affected.
func (s *Store) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pruneBatch bounds the rows one transaction of Prune deletes or rewrites.
// SQLite has one writer: deleting an hour of minute buckets of thousands of
// replicas in one transaction (tens of thousands of rows, each in the table
// and in its start index) held it for as long as that took, and every write
// queued behind. A thousand rows take milliseconds, and writes go between.
const pruneBatch = 1000

// pruneSeries bounds the series one transaction of Prune deletes from: the
// hourly prune deletes one hour bucket per series, each on a page of its
// own, and a thousand of them in one transaction (a thousand pages) held
// the writer for 300 ms.
const pruneSeries = 100

// deleteInBatches deletes the buckets of table that start before `before`,
// about pruneBatch rows per transaction, a range of series at a time. Rows
// of neighbouring series are neighbours in the primary key, so a batch
// rewrites a few pages; a batch of the oldest rows of every series (in start
// order) rewrote a page per series for the same number of rows, and took
// ten times as long.
func (s *Store) deleteInBatches(ctx context.Context, table string, before int64) (int64, error) {
	var (
		rows   int64
		lo, hi sql.Null[int64]
	)
	if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*), MIN(series_id), MAX(series_id) FROM `+table+` WHERE start_ms < $1`,
		before).Scan(&rows, &lo, &hi); err != nil {
		return 0, fmt.Errorf("%s: %w", table, err)
	}
	if rows == 0 {
		return 0, nil
	}
	// Series have about the same number of buckets to delete: as many as
	// the time since the oldest, all checked at the same pace.
	perSeries := max(1, rows/(hi.V-lo.V+1))
	step := max(1, min(pruneBatch/perSeries, pruneSeries))
	var total int64
	for first := lo.V; first <= hi.V; first += step {
		n, err := s.exec(ctx, `DELETE FROM `+table+` WHERE series_id >= $1 AND series_id < $2 AND start_ms < $3`,
			first, first+step, before)
		total += n
		if err != nil {
			return total, fmt.Errorf("%s: %w", table, err)
		}
		s.checkpointAside(ctx)
	}
	return total, nil
}

// checkpointAside copies what the write-ahead log holds into the SQLite
// database file, on a reader connection, so that the writer does not have to.
// SQLite checkpoints on the connection whose commit fills the log past 1000
// pages: during a prune that was every dozen batches, on the one writer, and
// each checkpoint (a thousand pages and an fsync) held up the writes queued
// behind it for hundreds of milliseconds. A passive checkpoint waits for no
// one and no writer waits for it. It is only a head start: if it fails, the
// writer checkpoints as before, so its error is not the prune's.
func (s *Store) checkpointAside(ctx context.Context) {
	if s.driver != SQLite {
		return
	}
	_, _ = s.r.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
}

// pruneDays brings the day buckets in line with the hour buckets once those
// before `before` are deleted: the days that end by then go, and the day that
// `before` falls in is summed again from the hours it keeps, a range of
// series at a time. It returns the number of day buckets deleted.
func (s *Store) pruneDays(ctx context.Context, before int64) (int64, error) {
	total, err := s.deleteInBatches(ctx, dayTable, dayStart(before)) // whole days
	if err != nil {
		return total, err
	}
	day := dayStart(before)
	if day == before {
		return total, nil
	}
	var lo, hi sql.Null[int64]
	if err := s.w.QueryRowContext(ctx, `SELECT MIN(series_id), MAX(series_id) FROM `+dayTable+` WHERE start_ms = $1`,
		day).Scan(&lo, &hi); err != nil {
		return total, fmt.Errorf("%s: %w", dayTable, err)
	}
	if !lo.Valid {
		return total, nil
	}
	// The hour buckets of one day are at most 24 per series.
	const seriesPerBatch = pruneBatch / 24
	for first := lo.V; first <= hi.V; first += seriesPerBatch {
		if _, err := s.exec(ctx, `UPDATE `+dayTable+` SET
			(healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns) = (SELECT
				COALESCE(SUM(h.healthy), 0), COALESCE(SUM(h.sick), 0), COALESCE(SUM(h.dead), 0),
				COALESCE(SUM(h.lat_count), 0),
				COALESCE(MIN(CASE WHEN h.lat_count > 0 THEN h.lat_min_ns END), 0),
				COALESCE(MAX(CASE WHEN h.lat_count > 0 THEN h.lat_max_ns END), 0),
				COALESCE(SUM(h.lat_sum_ns), 0)
			FROM `+hourTable+` h WHERE h.series_id = `+dayTable+`.series_id AND h.start_ms >= $1 AND h.start_ms < $2)
			WHERE start_ms = $1 AND series_id >= $3 AND series_id < $4`,
			day, day+(24*time.Hour).Milliseconds(), first, first+seriesPerBatch); err != nil {
			return total, fmt.Errorf("%s: %w", dayTable, err)
		}
	}
	// Every sample counts in one of healthy, sick and dead: a day left with
	// none has no hour bucket left.
	n, err := s.exec(ctx, `DELETE FROM `+dayTable+` WHERE start_ms = $1 AND healthy = 0 AND sick = 0 AND dead = 0`, day)
	total += n
	if err != nil {
		return total, fmt.Errorf("%s: %w", dayTable, err)
	}
	return total, nil
}
