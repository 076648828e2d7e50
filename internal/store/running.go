package store

// Running intervals and uptime. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// MarkAlive records that the vigil instance was running at t. The daemon
// calls it periodically (more often than Config.AliveGap): calls closer
// together than AliveGap extend one running interval, a longer pause starts a
// new one, and the time in between counts as "no data". A t at or before the
// end of the instance's latest interval changes nothing.
func (s *Store) MarkAlive(ctx context.Context, instance string, t time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if instance == "" || t.IsZero() {
		return fmt.Errorf("mark alive %q at %v: %w", instance, t, ErrInvalid)
	}
	now := ms(t)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var start, end int64
		err := tx.QueryRowContext(ctx, `SELECT start_ms, end_ms FROM running WHERE instance = $1
			ORDER BY start_ms DESC LIMIT 1`, instance).Scan(&start, &end)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case now <= end:
			return nil
		case now-end <= s.aliveGap.Milliseconds():
			_, err := tx.ExecContext(ctx, `UPDATE running SET end_ms = $1 WHERE instance = $2 AND start_ms = $3`, now, instance, start)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO running (instance, start_ms, end_ms) VALUES ($1, $2, $2)`, instance, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark alive: %w", err)
	}
	return nil
}

// running returns the running intervals of every instance that overlap [since, until).
func (s *Store) running(ctx context.Context, since, until time.Time) ([]span, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT start_ms, end_ms FROM running WHERE end_ms > $1 AND start_ms < $2`,
		ms(since), ms(until))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []span
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			return nil, err
		}
		out = append(out, span{fromMS(a), fromMS(b)})
	}
	return out, rows.Err()
}

// timeline returns the recorded status of a node (node != ""), a service
// (node == "") or the page (both empty) over [since, until): the last change
// before since, then every change in the range, oldest first.
func (s *Store) timeline(ctx context.Context, service, node string, since, until time.Time) ([]point, error) {
	level := LevelGeneral
	switch {
	case node != "":
		level = LevelNode
	case service != "":
		level = LevelService
	}
	const cols = `SELECT at_ms, to_health FROM changes WHERE service = $1 AND node = $2 AND level = $3 AND replica = ''`
	var out []point
	scan := func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				at int64
				h  string
			)
			if err := rows.Scan(&at, &h); err != nil {
				return err
			}
			health, err := scanHealth(h)
			if err != nil {
				return err
			}
			out = append(out, point{fromMS(at), health})
		}
		return rows.Err()
	}
	if err := scan(s.r.QueryContext(ctx, cols+` AND at_ms < $4 ORDER BY at_ms DESC, id DESC LIMIT 1`,
		service, node, string(level), ms(since))); err != nil {
		return nil, err
	}
	if err := scan(s.r.QueryContext(ctx, cols+` AND at_ms >= $4 AND at_ms < $5 ORDER BY at_ms, id`,
		service, node, string(level), ms(since), ms(until))); err != nil {
		return nil, err
	}
	return out, nil
}

// Uptime reports how [since, until) splits into up, down, no data and
// maintenance for a node (node != ""), a whole service (node == "") or the
// page (both empty), from the recorded status changes at that level.
//
//   - Time when no vigil instance was running (see MarkAlive) is no data,
//     never up; so is time before the first recorded status.
//   - Time inside one of the maintenance windows that covers the node (see
//     Window.Covers) is maintenance, whatever the status.
//   - Sick counts as up: the node answered, slowly or in part.
//
// Within a running interval, the status before its first change is the last
// one recorded before it. The monitor therefore resumes from LastChanges
// after a start and records any difference it then finds.
func (s *Store) Uptime(ctx context.Context, service, node string, since, until time.Time, maintenance []Window) (UptimeReport, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if node != "" && service == "" {
		return UptimeReport{}, fmt.Errorf("uptime: node %q without service: %w", node, ErrInvalid)
	}
	points, err := s.timeline(ctx, service, node, since, until)
	if err != nil {
		return UptimeReport{}, fmt.Errorf("uptime: %w", err)
	}
	running, err := s.running(ctx, since, until)
	if err != nil {
		return UptimeReport{}, fmt.Errorf("uptime: %w", err)
	}
	rep, _ := uptime(since, until, points, running, maintenanceSpans(maintenance, service, node))
	return rep, nil
}

// Days returns one Day per UTC day that [since, until) touches, oldest first,
// for a node (node != "") or a whole service (node == ""): its samples from
// the day buckets, and its uptime computed as Uptime does, over the part of
// the day inside [since, until). Days without data are included.
func (s *Store) Days(ctx context.Context, service, node string, since, until time.Time, maintenance []Window) ([]Day, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if service == "" || !until.After(since) {
		return nil, fmt.Errorf("days of %q/%q from %v to %v: %w", service, node, since, until, ErrInvalid)
	}
	first, end := dayRange(since, until)
	buckets, err := s.buckets(ctx, dayTable, SeriesKey{Service: service, Node: node}, first, end)
	if err != nil {
		return nil, fmt.Errorf("days: %w", err)
	}
	points, err := s.timeline(ctx, service, node, since, until)
	if err != nil {
		return nil, fmt.Errorf("days: %w", err)
	}
	running, err := s.running(ctx, since, until)
	if err != nil {
		return nil, fmt.Errorf("days: %w", err)
	}
	return days(since, until, buckets, points, running, maintenanceSpans(maintenance, service, node)), nil
}

// dayRange returns the midnights (UTC) that start the first day [since,
// until) touches and end the last one.
func dayRange(since, until time.Time) (first, end time.Time) {
	const day = 24 * time.Hour
	first = since.UTC().Truncate(day)
	end = until.UTC().Truncate(day)
	if end.Before(until) {
		end = end.Add(day)
	}
	return first, end
}

// days computes what Days returns from what it read: the day (or hour)
// buckets of the days, oldest first, and the timeline, running and maintenance spans that
// uptime takes.
func days(since, until time.Time, buckets []Bucket, points []point, running, maint []span) []Day {
	const day = 24 * time.Hour
	first, end := dayRange(since, until)
	// Sized exactly: the page keeps 90 of these per node in memory.
	out := make([]Day, 0, int(end.Sub(first)/day))
	for start := first; start.Before(end); start = start.Add(day) {
		d := Day{Start: start}
		var sum Bucket
		for len(buckets) > 0 && buckets[0].Start.Before(start.Add(day)) {
			sum.add(buckets[0])
			buckets = buckets[1:]
		}
		d.Checks, d.Healthy, d.Sick, d.Dead = sum.Checks(), sum.Healthy, sum.Sick, sum.Dead
		var worst status.Health
		d.Uptime, worst = uptime(later(start, since), earlier(start.Add(day), until), points, running, maint)
		d.Worst = status.Worst(sum.Worst(), worst)
		out = append(out, d)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
