package store

// Every statement in this file runs unchanged on SQLite and PostgreSQL.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// where builds a WHERE clause with numbered parameters, so that a filter
// leaves out the conditions it does not use and indexes stay usable.
type where struct {
	conds []string
	args  []any
}

// add appends a condition in which "?" stands for the next parameter.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1))
}

// param appends a parameter that is not part of a condition and returns its name.
func (w *where) param(arg any) string {
	w.args = append(w.args, arg)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// rowLimit turns "0 means no limit" into a value both databases accept.
func rowLimit(n int) int64 {
	if n <= 0 {
		return math.MaxInt64
	}
	return int64(n)
}

// upper turns a zero "until" into no upper bound.
func upper(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return ms(t)
}

func scanHealth(s string) (status.Health, error) {
	h, err := status.ParseHealth(s)
	if err != nil {
		return h, fmt.Errorf("stored health: %w", err)
	}
	return h, nil
}

func validHealth(h status.Health) bool { return h <= status.Dead }

// ---- Status changes ----

// RecordChanges stores status changes, all or none.
func (s *Store) RecordChanges(ctx context.Context, changes ...Change) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for _, c := range changes {
		if err := c.validate(); err != nil {
			return fmt.Errorf("record changes: %w", err)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO changes
			(at_ms, level, service, node, replica, from_health, to_health, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range changes {
			if _, err := stmt.ExecContext(ctx, ms(c.Time), string(c.Level), c.Service, c.Node, c.Replica,
				c.From.String(), c.To.String(), c.Reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record changes: %w", err)
	}
	return nil
}

const changeColumns = `id, at_ms, level, service, node, replica, from_health, to_health, reason`

func scanChanges(rows *sql.Rows) ([]Change, error) {
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var (
			c        Change
			at       int64
			level    string
			from, to string
		)
		if err := rows.Scan(&c.ID, &at, &level, &c.Service, &c.Node, &c.Replica, &from, &to, &c.Reason); err != nil {
			return nil, err
		}
		c.Time, c.Level = fromMS(at), Level(level)
		var err error
		if c.From, err = scanHealth(from); err != nil {
			return nil, err
		}
		if c.To, err = scanHealth(to); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Changes returns the changes f selects, newest first.
func (s *Store) Changes(ctx context.Context, f ChangeFilter) ([]Change, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if f.Node != "" && f.Service == "" {
		return nil, fmt.Errorf("changes: node %q without service: %w", f.Node, ErrInvalid)
	}
	var w where
	if f.Service != "" {
		w.add("service = ?", f.Service)
	}
	if f.Node != "" {
		w.add("node = ?", f.Node)
	}
	if f.Level != "" {
		w.add("level = ?", string(f.Level))
	}
	if !f.Since.IsZero() {
		w.add("at_ms >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("at_ms < ?", ms(f.Until))
	}
	q := `SELECT ` + changeColumns + ` FROM changes` + w.String() +
		` ORDER BY at_ms DESC, id DESC LIMIT ` + w.param(rowLimit(f.Limit))
	rows, err := s.r.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	out, err := scanChanges(rows)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return out, nil
}

// LastChanges returns the latest change of every replica, node, service and
// of the page: their current status as far as the store knows. Prune never
// deletes these, so the monitor can resume from them after a restart.
func (s *Store) LastChanges(ctx context.Context) ([]Change, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+changeColumns+` FROM changes
		WHERE NOT EXISTS (SELECT 1 FROM changes n
			WHERE n.service = changes.service AND n.node = changes.node
			AND n.level = changes.level AND n.replica = changes.replica
			AND (n.at_ms > changes.at_ms OR (n.at_ms = changes.at_ms AND n.id > changes.id)))
		ORDER BY service, node, level, replica`)
	if err != nil {
		return nil, fmt.Errorf("last changes: %w", err)
	}
	out, err := scanChanges(rows)
	if err != nil {
		return nil, fmt.Errorf("last changes: %w", err)
	}
	return out, nil
}

// ---- Samples and buckets ----

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
)

// AddSamples adds samples to their per-minute and per-hour buckets, all in
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
		return s.upsertBuckets(ctx, tx, hourTable, ids, hours)
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
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var (
			b          Bucket
			start, sum int64
			lo, hi     sql.Null[int64]
		)
		if err := rows.Scan(&start, &b.Healthy, &b.Sick, &b.Dead, &b.LatencyCount, &lo, &hi, &sum); err != nil {
			return nil, err
		}
		b.Start = fromMS(start)
		b.LatencyMin, b.LatencyMax, b.LatencySum = time.Duration(lo.V), time.Duration(hi.V), time.Duration(sum)
		out = append(out, b)
	}
	return out, rows.Err()
}

// ---- Running intervals and uptime ----

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
// the hour buckets, and its uptime computed as Uptime does, over the part of
// the day inside [since, until). Days without data are included.
func (s *Store) Days(ctx context.Context, service, node string, since, until time.Time, maintenance []Window) ([]Day, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if service == "" || !until.After(since) {
		return nil, fmt.Errorf("days of %q/%q from %v to %v: %w", service, node, since, until, ErrInvalid)
	}
	first, end := dayRange(since, until)
	buckets, err := s.buckets(ctx, hourTable, SeriesKey{Service: service, Node: node}, first, end)
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

// days computes what Days returns from what it read: the hour buckets of the
// days, oldest first, and the timeline, running and maintenance spans that
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

// ---- Push and local replicas ----

// SaveReplica stores a push or local replica with its last report, replacing
// what was stored for the same service, node and replica.
func (s *Store) SaveReplica(ctx context.Context, r PushReplica) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if r.Service == "" || r.Node == "" || r.Replica == "" || !validHealth(r.Health) || r.LastReport.IsZero() || r.Interval < 0 {
		return fmt.Errorf("save replica %s: %w", status.DeadID(r.Service, r.Node, r.Replica), ErrInvalid)
	}
	if err := checkTexts("save replica", r.Service, r.Node, r.Replica, r.Reason); err != nil {
		return err
	}
	var load status.Load
	if r.Load != nil {
		load = *r.Load
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO replicas
			(service, node, replica, mode, interval_ms, last_report_ms, has_load, cpu, ram, health, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (service, node, replica) DO UPDATE SET
				mode = excluded.mode, interval_ms = excluded.interval_ms,
				last_report_ms = excluded.last_report_ms, has_load = excluded.has_load,
				cpu = excluded.cpu, ram = excluded.ram, health = excluded.health, reason = excluded.reason`,
			r.Service, r.Node, r.Replica, string(r.Mode), r.Interval.Milliseconds(), ms(r.LastReport),
			r.Load != nil, load.CPU, load.RAM, r.Health.String(), r.Reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("save replica %s: %w", status.DeadID(r.Service, r.Node, r.Replica), err)
	}
	return nil
}

// LoadReplicas returns every stored push and local replica, sorted by
// service, node and replica.
func (s *Store) LoadReplicas(ctx context.Context) ([]PushReplica, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT service, node, replica, mode, interval_ms, last_report_ms,
		has_load, cpu, ram, health, reason FROM replicas ORDER BY service, node, replica`)
	if err != nil {
		return nil, fmt.Errorf("load replicas: %w", err)
	}
	defer rows.Close()
	var out []PushReplica
	for rows.Next() {
		var (
			r            PushReplica
			mode, health string
			interval, at int64
			hasLoad      bool
			load         status.Load
		)
		if err := rows.Scan(&r.Service, &r.Node, &r.Replica, &mode, &interval, &at, &hasLoad,
			&load.CPU, &load.RAM, &health, &r.Reason); err != nil {
			return nil, fmt.Errorf("load replicas: %w", err)
		}
		r.Mode, r.Interval, r.LastReport = status.Mode(mode), time.Duration(interval)*time.Millisecond, fromMS(at)
		if hasLoad {
			r.Load = &load
		}
		if r.Health, err = scanHealth(health); err != nil {
			return nil, fmt.Errorf("load replicas: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load replicas: %w", err)
	}
	return out, nil
}

// DeleteReplica forgets a push or local replica. It returns ErrNotFound if
// none was stored.
func (s *Store) DeleteReplica(ctx context.Context, service, node, replica string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := checkTexts("delete replica", service, node, replica); err != nil {
		return err
	}
	return s.execOne(ctx, "delete replica "+status.DeadID(service, node, replica),
		`DELETE FROM replicas WHERE service = $1 AND node = $2 AND replica = $3`, service, node, replica)
}

// execOne runs a DELETE or UPDATE that must affect a row, or returns ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, q string, args ...any) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ---- Announcements ----

// AddAnnouncement publishes an announcement at t under a new random id.
// Title and text must not be empty (whitespace is accepted, as in Vigil).
func (s *Store) AddAnnouncement(ctx context.Context, title, text string, t time.Time) (Announcement, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if title == "" || text == "" || t.IsZero() {
		return Announcement{}, fmt.Errorf("add announcement: empty title or text: %w", ErrInvalid)
	}
	if err := checkTexts("add announcement", title, text); err != nil {
		return Announcement{}, err
	}
	a := Announcement{ID: newUUID(), Title: title, Text: text, Time: fromMS(ms(t))}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO announcements (id, title, body, created_ms) VALUES ($1, $2, $3, $4)`,
			a.ID, a.Title, a.Text, ms(a.Time))
		return err
	})
	if err != nil {
		return Announcement{}, fmt.Errorf("add announcement: %w", err)
	}
	return a, nil
}

// UpdateAnnouncement replaces the title and text of an announcement, edited
// at t. It returns ErrNotFound if there is no such announcement.
func (s *Store) UpdateAnnouncement(ctx context.Context, id, title, text string, t time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if title == "" || text == "" || t.IsZero() {
		return fmt.Errorf("update announcement %s: empty title or text: %w", id, ErrInvalid)
	}
	if err := checkTexts("update announcement", id, title, text); err != nil {
		return err
	}
	return s.execOne(ctx, "update announcement "+id,
		`UPDATE announcements SET title = $1, body = $2, updated_ms = $3 WHERE id = $4`, title, text, ms(t), id)
}

// DeleteAnnouncement retracts an announcement. It returns ErrNotFound if
// there is no such announcement.
func (s *Store) DeleteAnnouncement(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := checkTexts("delete announcement", id); err != nil {
		return err
	}
	return s.execOne(ctx, "delete announcement "+id, `DELETE FROM announcements WHERE id = $1`, id)
}

// Announcements returns every announcement in the order they were added.
func (s *Store) Announcements(ctx context.Context) ([]Announcement, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT id, title, body, created_ms, updated_ms FROM announcements ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	defer rows.Close()
	var out []Announcement
	for rows.Next() {
		var (
			a       Announcement
			created int64
			updated sql.Null[int64]
		)
		if err := rows.Scan(&a.ID, &a.Title, &a.Text, &created, &updated); err != nil {
			return nil, fmt.Errorf("announcements: %w", err)
		}
		a.Time, a.Updated = fromMS(created), fromNullMS(updated)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	return out, nil
}

// ---- Maintenance windows ----

func encodeList(list []string) string {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err) // a []string always encodes
	}
	return string(b)
}

func decodeList(s string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// AddMaintenance stores a maintenance window and returns it with its id.
func (s *Store) AddMaintenance(ctx context.Context, w Window) (Window, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := w.validate(); err != nil {
		return Window{}, fmt.Errorf("add maintenance: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO maintenance (start_ms, end_ms, targets, message)
			VALUES ($1, $2, $3, $4) RETURNING id`, ms(w.Start), ms(w.End), encodeList(w.Targets), w.Message).Scan(&w.ID)
	})
	if err != nil {
		return Window{}, fmt.Errorf("add maintenance: %w", err)
	}
	w.Start, w.End = fromMS(ms(w.Start)), fromMS(ms(w.End))
	if len(w.Targets) == 0 {
		w.Targets = nil
	}
	return w, nil
}

// UpdateMaintenance replaces the window with id w.ID. It returns ErrNotFound
// if there is no such window.
func (s *Store) UpdateMaintenance(ctx context.Context, w Window) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := w.validate(); err != nil {
		return fmt.Errorf("update maintenance %d: %w", w.ID, err)
	}
	return s.execOne(ctx, fmt.Sprintf("update maintenance %d", w.ID),
		`UPDATE maintenance SET start_ms = $1, end_ms = $2, targets = $3, message = $4 WHERE id = $5`,
		ms(w.Start), ms(w.End), encodeList(w.Targets), w.Message, w.ID)
}

// DeleteMaintenance deletes a window. It returns ErrNotFound if there is no
// such window.
func (s *Store) DeleteMaintenance(ctx context.Context, id int64) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOne(ctx, fmt.Sprintf("delete maintenance %d", id), `DELETE FROM maintenance WHERE id = $1`, id)
}

// Maintenance returns the windows that overlap [since, until), by start
// time. A zero until means no upper bound, so Maintenance(ctx, now,
// time.Time{}) returns the active and upcoming windows.
func (s *Store) Maintenance(ctx context.Context, since, until time.Time) ([]Window, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT id, start_ms, end_ms, targets, message FROM maintenance
		WHERE end_ms > $1 AND start_ms < $2 ORDER BY start_ms, id`, ms(since), upper(until))
	if err != nil {
		return nil, fmt.Errorf("maintenance: %w", err)
	}
	defer rows.Close()
	var out []Window
	for rows.Next() {
		var (
			w          Window
			start, end int64
			targets    string
		)
		if err := rows.Scan(&w.ID, &start, &end, &targets, &w.Message); err != nil {
			return nil, fmt.Errorf("maintenance: %w", err)
		}
		w.Start, w.End = fromMS(start), fromMS(end)
		if w.Targets, err = decodeList(targets); err != nil {
			return nil, fmt.Errorf("maintenance: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("maintenance: %w", err)
	}
	return out, nil
}

// ---- Incidents ----

// OpenIncident stores a new incident, with any updates it already carries,
// and returns it with its ids. It may be stored already resolved (to record
// an outage after the fact).
func (s *Store) OpenIncident(ctx context.Context, in Incident) (Incident, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if in.Title == "" || in.Opened.IsZero() || (!in.Resolved.IsZero() && in.Resolved.Before(in.Opened)) {
		return Incident{}, fmt.Errorf("open incident %q: %w", in.Title, ErrInvalid)
	}
	texts := append([]string{in.Title}, in.Nodes...)
	for _, u := range in.Updates {
		if u.Time.IsZero() {
			return Incident{}, fmt.Errorf("open incident %q: update without time: %w", in.Title, ErrInvalid)
		}
		texts = append(texts, u.Status, u.Text)
	}
	if err := checkTexts("open incident", texts...); err != nil {
		return Incident{}, err
	}
	in.Opened, in.Resolved = fromMS(ms(in.Opened)), fromNullMS(sql.Null[int64]{V: ms(in.Resolved), Valid: !in.Resolved.IsZero()})
	in.Updates = slices.Clone(in.Updates)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO incidents (title, auto, nodes, opened_ms, resolved_ms)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			in.Title, in.Auto, encodeList(in.Nodes), ms(in.Opened), nullMS(in.Resolved)).Scan(&in.ID); err != nil {
			return err
		}
		for i := range in.Updates {
			if err := insertUpdate(ctx, tx, in.ID, &in.Updates[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Incident{}, fmt.Errorf("open incident %q: %w", in.Title, err)
	}
	return in, nil
}

func insertUpdate(ctx context.Context, tx *sql.Tx, incident int64, u *IncidentUpdate) error {
	u.Time = fromMS(ms(u.Time))
	return tx.QueryRowContext(ctx, `INSERT INTO incident_updates (incident_id, at_ms, status, body)
		VALUES ($1, $2, $3, $4) RETURNING id`, incident, ms(u.Time), u.Status, u.Text).Scan(&u.ID)
}

// AddIncidentUpdate adds a dated note to an incident, open or resolved, and
// returns it with its id. It returns ErrNotFound if there is no such incident.
func (s *Store) AddIncidentUpdate(ctx context.Context, id int64, u IncidentUpdate) (IncidentUpdate, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if u.Time.IsZero() {
		return IncidentUpdate{}, fmt.Errorf("add incident update to %d: no time: %w", id, ErrInvalid)
	}
	if err := checkTexts("add incident update", u.Status, u.Text); err != nil {
		return IncidentUpdate{}, err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM incidents WHERE id = $1`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return insertUpdate(ctx, tx, id, &u)
	})
	if err != nil {
		return IncidentUpdate{}, fmt.Errorf("add incident update to %d: %w", id, err)
	}
	return u, nil
}

// ResolveIncident marks an open incident resolved at t. It returns
// ErrNotFound if there is no such incident, ErrConflict if it is already
// resolved, and ErrInvalid if t is before the incident opened.
func (s *Store) ResolveIncident(ctx context.Context, id int64, t time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.write(ctx, func(tx *sql.Tx) error {
		var (
			opened   int64
			resolved sql.Null[int64]
		)
		err := tx.QueryRowContext(ctx, `SELECT opened_ms, resolved_ms FROM incidents WHERE id = $1`, id).Scan(&opened, &resolved)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case resolved.Valid:
			return fmt.Errorf("already resolved at %v: %w", fromMS(resolved.V), ErrConflict)
		case t.IsZero() || ms(t) < opened:
			return fmt.Errorf("resolved at %v, before it opened at %v: %w", t, fromMS(opened), ErrInvalid)
		}
		_, err = tx.ExecContext(ctx, `UPDATE incidents SET resolved_ms = $1 WHERE id = $2`, ms(t), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("resolve incident %d: %w", id, err)
	}
	return nil
}

const incidentColumns = `id, title, auto, nodes, opened_ms, resolved_ms`

// Incident returns one incident with its updates, oldest first. It returns
// ErrNotFound if there is no such incident.
func (s *Store) Incident(ctx context.Context, id int64) (Incident, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	list, err := s.incidents(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id)
	if err != nil {
		return Incident{}, fmt.Errorf("incident %d: %w", id, err)
	}
	if len(list) == 0 {
		return Incident{}, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	return list[0], nil
}

// Incidents returns the incidents f selects, most recently opened first,
// each with its updates, oldest first.
func (s *Store) Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var w where
	if !f.Since.IsZero() {
		w.add("(resolved_ms IS NULL OR resolved_ms >= ?)", ms(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("opened_ms < ?", ms(f.Until))
	}
	if f.OpenOnly {
		w.conds = append(w.conds, "resolved_ms IS NULL")
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents` + w.String() +
		` ORDER BY opened_ms DESC, id DESC LIMIT ` + w.param(rowLimit(f.Limit))
	list, err := s.incidents(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	return list, nil
}

func (s *Store) incidents(ctx context.Context, q string, args ...any) ([]Incident, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Incident
	index := make(map[int64]int)
	for rows.Next() {
		var (
			in       Incident
			nodes    string
			opened   int64
			resolved sql.Null[int64]
		)
		if err := rows.Scan(&in.ID, &in.Title, &in.Auto, &nodes, &opened, &resolved); err != nil {
			return nil, err
		}
		in.Opened, in.Resolved = fromMS(opened), fromNullMS(resolved)
		if in.Nodes, err = decodeList(nodes); err != nil {
			return nil, err
		}
		index[in.ID] = len(out)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// Updates in chunks, to stay below the databases' parameter limits.
	for chunk := range slices.Chunk(out, 500) {
		var q strings.Builder
		q.WriteString(`SELECT id, incident_id, at_ms, status, body FROM incident_updates WHERE incident_id IN (`)
		ids := make([]any, len(chunk))
		for i, in := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(s.placeholder(i + 1))
			ids[i] = in.ID
		}
		q.WriteString(`) ORDER BY at_ms, id`)
		if err := s.scanUpdates(ctx, q.String(), ids, out, index); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) scanUpdates(ctx context.Context, q string, args []any, into []Incident, index map[int64]int) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u        IncidentUpdate
			incident int64
			at       int64
		)
		if err := rows.Scan(&u.ID, &incident, &at, &u.Status, &u.Text); err != nil {
			return err
		}
		u.Time = fromMS(at)
		if i, ok := index[incident]; ok {
			into[i].Updates = append(into[i].Updates, u)
		}
	}
	return rows.Err()
}

// ---- Reminder state ----

// Reminder returns the reminder state of a scope ("" for the page-wide
// status), and false if none was stored yet.
func (s *Store) Reminder(ctx context.Context, scope string) (ReminderState, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var (
		st               ReminderState
		notified, ignore sql.Null[int64]
		last, dead       string
	)
	err := s.r.QueryRowContext(ctx, `SELECT last_notified_ms, backoff, escalation, ignore_until_ms, last_status, last_dead, outage
		FROM reminders WHERE scope = $1`, scope).Scan(&notified, &st.Backoff, &st.Escalation, &ignore, &last, &dead, &st.Outage)
	if errors.Is(err, sql.ErrNoRows) {
		return ReminderState{}, false, nil
	}
	if err != nil {
		return ReminderState{}, false, fmt.Errorf("reminder %q: %w", scope, err)
	}
	st.LastNotified, st.IgnoreUntil = fromNullMS(notified), fromNullMS(ignore)
	if st.LastStatus, err = scanHealth(last); err != nil {
		return ReminderState{}, false, fmt.Errorf("reminder %q: %w", scope, err)
	}
	if st.LastDead, err = decodeList(dead); err != nil {
		return ReminderState{}, false, fmt.Errorf("reminder %q: %w", scope, err)
	}
	return st, true, nil
}

// PutReminder replaces the reminder state of a scope.
func (s *Store) PutReminder(ctx context.Context, scope string, st ReminderState) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !validHealth(st.LastStatus) {
		return fmt.Errorf("put reminder %q: health %v: %w", scope, st.LastStatus, ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO reminders
			(scope, last_notified_ms, backoff, escalation, ignore_until_ms, last_status, last_dead, outage)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (scope) DO UPDATE SET
				last_notified_ms = excluded.last_notified_ms, backoff = excluded.backoff,
				escalation = excluded.escalation, ignore_until_ms = excluded.ignore_until_ms,
				last_status = excluded.last_status, last_dead = excluded.last_dead, outage = excluded.outage`,
			scope, nullMS(st.LastNotified), st.Backoff, st.Escalation, nullMS(st.IgnoreUntil),
			st.LastStatus.String(), encodeList(st.LastDead), st.Outage)
		return err
	})
	if err != nil {
		return fmt.Errorf("put reminder %q: %w", scope, err)
	}
	return nil
}

// ---- Alert outbox ----

// Enqueue adds entries to the outbox, all or none, and returns how many were
// new. An entry whose ID is already in the outbox, in any state, is skipped:
// enqueueing the same alert twice (after a restart, or from two instances)
// sends it once. A zero NextAttempt means CreatedAt.
func (s *Store) Enqueue(ctx context.Context, entries []OutboxEntry) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for _, e := range entries {
		if e.ID == "" || e.Channel == "" || e.CreatedAt.IsZero() {
			return 0, fmt.Errorf("enqueue %q to %q: id, channel and creation time are required: %w", e.ID, e.Channel, ErrInvalid)
		}
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox (id, channel, target, payload, created_ms, next_ms)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			next := e.NextAttempt
			if next.IsZero() {
				next = e.CreatedAt
			}
			payload := e.Payload
			if payload == nil {
				payload = []byte{}
			}
			res, err := stmt.ExecContext(ctx, e.ID, e.Channel, e.Target, payload, ms(e.CreatedAt), ms(next))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return added, nil
}

const outboxColumns = `seq, id, channel, target, payload, created_ms, next_ms, attempts, last_error, state, done_ms`

func scanOutbox(rows *sql.Rows) ([]OutboxEntry, error) {
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var (
			e             OutboxEntry
			created, next int64
			done          sql.Null[int64]
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.Channel, &e.Target, &e.Payload, &created, &next,
			&e.Attempts, &e.LastError, &e.State, &done); err != nil {
			return nil, err
		}
		e.CreatedAt, e.NextAttempt, e.Done = fromMS(created), fromMS(next), fromNullMS(done)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Due returns the channel's entries to attempt at now, in insertion order:
// for each target, its oldest pending entry, if its NextAttempt has come.
// So a later message never overtakes an earlier one to the same target, and
// a target whose deliveries keep failing does not hold up the others.
// limit <= 0 means no limit.
//
// Entries stay pending until MarkDelivered or GiveUp: delivery is at least
// once, and one process (the cluster leader) should deliver each channel.
func (s *Store) Due(ctx context.Context, channel string, now time.Time, limit int) ([]OutboxEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox
		WHERE channel = $1 AND state = 'pending' AND next_ms <= $2
		AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.channel = outbox.channel AND p.target = outbox.target
			AND p.state = 'pending' AND p.seq < outbox.seq)
		ORDER BY seq LIMIT $3`, channel, ms(now), rowLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("due %q: %w", channel, err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("due %q: %w", channel, err)
	}
	return out, nil
}

// PendingCount returns how many entries of the channel are still pending:
// due, waiting for a retry, or queued behind an earlier message to the
// same target. It is one count over the outbox_pending index.
func (s *Store) PendingCount(ctx context.Context, channel string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE channel = $1 AND state = 'pending'`, channel).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pending count %q: %w", channel, err)
	}
	return n, nil
}

// OutboxEntry returns one entry by its ID, in whatever state. It returns
// ErrNotFound if there is no such entry.
func (s *Store) OutboxEntry(ctx context.Context, id string) (OutboxEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1`, id)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox entry %q: %w", id, err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox entry %q: %w", id, err)
	}
	if len(out) == 0 {
		return OutboxEntry{}, fmt.Errorf("outbox entry %q: %w", id, ErrNotFound)
	}
	return out[0], nil
}

// MarkDelivered records that an entry was delivered at t; it will not be due
// again. Marking a delivered entry again changes nothing; a given-up entry
// that was delivered after all becomes delivered. It returns ErrNotFound if
// there is no such entry.
func (s *Store) MarkDelivered(ctx context.Context, id string, t time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'delivered', done_ms = $1
			WHERE id = $2 AND state <> 'delivered'`, ms(t), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE id = $1`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mark delivered %q: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed attempt of a pending entry: it counts the
// attempt, keeps errText, and makes the entry due again at next. It returns
// ErrNotFound if there is no pending entry with that id.
func (s *Store) MarkFailed(ctx context.Context, id, errText string, next time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOne(ctx, fmt.Sprintf("mark failed %q", id), `UPDATE outbox
		SET attempts = attempts + 1, last_error = $1, next_ms = $2 WHERE id = $3 AND state = 'pending'`,
		errText, ms(next), id)
}

// Abandon gives up one pending entry at now, keeping errText: a failure
// that no retry can fix (the server rejected the message, or the target is
// no longer configured). It returns ErrNotFound if there is no pending entry
// with that id.
func (s *Store) Abandon(ctx context.Context, id, errText string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOne(ctx, fmt.Sprintf("abandon %q", id), `UPDATE outbox
		SET state = 'given_up', attempts = attempts + 1, last_error = $1, done_ms = $2
		WHERE id = $3 AND state = 'pending'`, errText, ms(now), id)
}

// GiveUp ends the pending entries created before olderThan, marking them
// given up at now, and returns them in insertion order so the caller can log
// each one.
func (s *Store) GiveUp(ctx context.Context, olderThan, now time.Time) ([]OutboxEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out []OutboxEntry
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET state = 'given_up', done_ms = $1
			WHERE state = 'pending' AND created_ms < $2 RETURNING `+outboxColumns, ms(now), ms(olderThan))
		if err != nil {
			return err
		}
		out, err = scanOutbox(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("give up: %w", err)
	}
	slices.SortFunc(out, func(a, b OutboxEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// ---- Retention ----

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
