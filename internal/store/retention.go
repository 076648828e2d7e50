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
// Retention.Hours, status changes older than Retention.Changes (except the
// latest of each replica, node, service and of the page), running intervals
// that ended before the longer of Retention.Changes and Retention.Hours,
// resolved incidents and ended maintenance windows older than
// Retention.Incidents, and delivered or given-up outbox entries older than
// Retention.Outbox. The daemon runs it periodically (hourly is plenty).
// Large deletions go in slices, so that other writers are not held up.
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
			return s.deleteInSlices(ctx, minuteTable, before, time.Hour)
		}},
		{&p.Hours, r.Hours, func(before int64) (int64, error) {
			return s.deleteInSlices(ctx, hourTable, before, 24*time.Hour)
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

// deleteInSlices deletes the buckets of table that start before `before`,
// one slice of width step at a time, each in its own transaction.
func (s *Store) deleteInSlices(ctx context.Context, table string, before int64, step time.Duration) (int64, error) {
	var total int64
	for {
		var oldest sql.Null[int64]
		if err := s.w.QueryRowContext(ctx, `SELECT MIN(start_ms) FROM `+table).Scan(&oldest); err != nil {
			return total, fmt.Errorf("%s: %w", table, err)
		}
		if !oldest.Valid || oldest.V >= before {
			return total, nil
		}
		bound := min(oldest.V+step.Milliseconds(), before)
		n, err := s.exec(ctx, `DELETE FROM `+table+` WHERE start_ms < $1`, bound)
		total += n
		if err != nil {
			return total, fmt.Errorf("%s: %w", table, err)
		}
	}
}
