package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// NodeKey names a node of a service.
type NodeKey struct{ Service, Node string }

// NodeHistoryQuery says what NodeHistories reads for each node, all up to
// Until.
type NodeHistoryQuery struct {
	Nodes       []NodeKey
	Since       time.Time   // Days from Since
	UptimeSince []time.Time // an Uptime from each
	HoursSince  time.Time   // HourBuckets from HoursSince
	Until       time.Time
	Maintenance []Window
}

// NodeHistory is the history of one node, as NodeHistories reads it.
type NodeHistory struct {
	Days   []Day          // as Days(Since, Until) returns them
	Uptime []UptimeReport // one per UptimeSince, as Uptime(t, Until)
	Hours  []Bucket       // as HourBuckets(HoursSince, Until)
}

// NodeHistories calls each, once per node of q, with what Days, Uptime and
// HourBuckets return for it (the same results, the slices each's own). The
// timelines and running intervals of every node are read in three queries,
// the buckets with two prepared queries per node (see nodeBuckets): read one
// node at a time with those methods, a page of thousands of nodes took about
// 17 queries per node, tens of thousands, and seconds of CPU at every start
// and every history refresh. Only one node's buckets are in memory at a time.
func (s *Store) NodeHistories(ctx context.Context, q NodeHistoryQuery, each func(NodeKey, NodeHistory)) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !q.Until.After(q.Since) || !q.Until.After(q.HoursSince) {
		return fmt.Errorf("node histories from %v and %v to %v: %w", q.Since, q.HoursSince, q.Until, ErrInvalid)
	}
	oldest := q.Since
	for _, t := range q.UptimeSince {
		if !q.Until.After(t) {
			return fmt.Errorf("node uptime from %v to %v: %w", t, q.Until, ErrInvalid)
		}
		oldest = earlier(oldest, t)
	}
	first, end := dayRange(q.Since, q.Until)
	pending := make(map[NodeKey]bool, len(q.Nodes)) // asked for, not handed yet
	for _, k := range q.Nodes {
		pending[k] = true
	}
	points, err := s.nodeTimelines(ctx, pending, oldest, q.Until)
	if err != nil {
		return fmt.Errorf("node histories: %w", err)
	}
	running, err := s.running(ctx, oldest, q.Until)
	if err != nil {
		return fmt.Errorf("node histories: %w", err)
	}
	hand := func(k NodeKey, dayBuckets, hourBuckets []Bucket) {
		if !pending[k] {
			return // named twice
		}
		delete(pending, k)
		ps := points[k]
		maint := maintenanceSpans(q.Maintenance, k.Service, k.Node)
		h := NodeHistory{
			Days:   days(q.Since, q.Until, dayBuckets, ps, running, maint),
			Uptime: make([]UptimeReport, 0, len(q.UptimeSince)),
		}
		if len(hourBuckets) > 0 { // nil without, as HourBuckets
			h.Hours = slices.Clone(hourBuckets)
		}
		for _, t := range q.UptimeSince {
			rep, _ := uptime(t, q.Until, ps, running, maint)
			h.Uptime = append(h.Uptime, rep)
		}
		each(k, h)
	}
	if err := s.nodeBuckets(ctx, q.Nodes, first, end, q.HoursSince, q.Until, hand); err != nil {
		return fmt.Errorf("node histories: %w", err)
	}
	return nil
}

// nodeBuckets calls each with the buckets of every node of nodes: per day
// for [daysSince, daysUntil) (whole days; the sample counts only, which is
// all days needs) and per hour for [hoursSince, hoursUntil), merged per node,
// oldest first.
//
// It queries node by node, with two prepared statements: SQLite merges the
// replicas' buckets of one node by sorting them in memory, where merging the
// whole range in one query (GROUP BY node and hour) sorted every bucket in a
// temporary table, and reading the rows unmerged costs as much in row
// handling (measured on 90 days of 1000 replicas: 2.2 s of CPU node by node,
// 12.4 s grouped, 4.1 s unmerged). The days come from the day buckets, 90
// rows per replica: summing them from the hour buckets walked 2160 rows per
// replica, most of a refresh's CPU. A statement parsed once keeps a query on
// a node without buckets cheap: parsing it again was most of the cost of the
// page's start on thousands of nodes.
func (s *Store) nodeBuckets(ctx context.Context, nodes []NodeKey, daysSince, daysUntil, hoursSince, hoursUntil time.Time,
	each func(k NodeKey, days, hours []Bucket)) error {
	dayStmt, err := s.r.PrepareContext(ctx, `SELECT b.start_ms,
		CAST(SUM(b.healthy) AS BIGINT), CAST(SUM(b.sick) AS BIGINT), CAST(SUM(b.dead) AS BIGINT)
		FROM `+dayTable+` b JOIN series s ON s.id = b.series_id
		WHERE s.service = $1 AND s.node = $2 AND b.start_ms >= $3 AND b.start_ms < $4
		GROUP BY b.start_ms ORDER BY b.start_ms`)
	if err != nil {
		return fmt.Errorf("day buckets: %w", err)
	}
	defer dayStmt.Close()
	hourStmt, err := s.r.PrepareContext(ctx, `SELECT b.start_ms,
		CAST(SUM(b.healthy) AS BIGINT), CAST(SUM(b.sick) AS BIGINT), CAST(SUM(b.dead) AS BIGINT),
		CAST(SUM(b.lat_count) AS BIGINT),
		MIN(CASE WHEN b.lat_count > 0 THEN b.lat_min_ns END),
		MAX(CASE WHEN b.lat_count > 0 THEN b.lat_max_ns END),
		CAST(SUM(b.lat_sum_ns) AS BIGINT)
		FROM `+hourTable+` b JOIN series s ON s.id = b.series_id
		WHERE s.service = $1 AND s.node = $2 AND b.start_ms >= $3 AND b.start_ms < $4
		GROUP BY b.start_ms ORDER BY b.start_ms`)
	if err != nil {
		return fmt.Errorf("hour buckets: %w", err)
	}
	defer hourStmt.Close()
	var ds, hs []Bucket // reused from node to node: each keeps none of them
	for _, k := range nodes {
		rows, err := dayStmt.QueryContext(ctx, k.Service, k.Node, ms(daysSince), upper(daysUntil))
		if ds, err = scanDays(ds[:0], rows, err); err != nil {
			return fmt.Errorf("day buckets of %s/%s: %w", k.Service, k.Node, err)
		}
		rows, err = hourStmt.QueryContext(ctx, k.Service, k.Node, ms(hoursSince), upper(hoursUntil))
		if hs, err = scanBuckets(hs[:0], rows, err); err != nil {
			return fmt.Errorf("hour buckets of %s/%s: %w", k.Service, k.Node, err)
		}
		each(k, ds, hs)
	}
	return nil
}

// scanDays appends to dst the day buckets of rows: start and counts.
func scanDays(dst []Bucket, rows *sql.Rows, err error) ([]Bucket, error) {
	if err != nil {
		return dst, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b     Bucket
			start int64
		)
		if err := rows.Scan(&start, &b.Healthy, &b.Sick, &b.Dead); err != nil {
			return dst, err
		}
		b.Start = fromMS(start)
		dst = append(dst, b)
	}
	return dst, rows.Err()
}

// scanBuckets appends to dst the buckets of rows, which are those of the
// query of buckets.
func scanBuckets(dst []Bucket, rows *sql.Rows, err error) ([]Bucket, error) {
	if err != nil {
		return dst, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b          Bucket
			start, sum int64
			lo, hi     sql.Null[int64]
		)
		if err := rows.Scan(&start, &b.Healthy, &b.Sick, &b.Dead, &b.LatencyCount, &lo, &hi, &sum); err != nil {
			return dst, err
		}
		b.Start = fromMS(start)
		b.LatencyMin, b.LatencyMax, b.LatencySum = time.Duration(lo.V), time.Duration(hi.V), time.Duration(sum)
		dst = append(dst, b)
	}
	return dst, rows.Err()
}

// nodeTimelines returns the node-level timeline of each wanted node over
// [since, until), as timeline does: its last change before since, then
// every change in the range, oldest first. uptime takes the status at any
// later instant from the same list, so one read serves every range that
// starts at or after since.
func (s *Store) nodeTimelines(ctx context.Context, wanted map[NodeKey]bool, since, until time.Time) (map[NodeKey][]point, error) {
	out := make(map[NodeKey][]point)
	scan := func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		var k NodeKey
		for rows.Next() {
			var (
				at int64
				h  string
			)
			if err := rows.Scan(&k.Service, &k.Node, &at, &h); err != nil {
				return err
			}
			if !wanted[k] {
				continue
			}
			health, err := scanHealth(h)
			if err != nil {
				return err
			}
			out[k] = append(out[k], point{fromMS(at), health})
		}
		return rows.Err()
	}
	// The last change before since, per node: its row number is 1 when
	// numbered newest first, ties broken by id as timeline does.
	if err := scan(s.r.QueryContext(ctx, `SELECT service, node, at_ms, to_health FROM (
			SELECT service, node, at_ms, to_health,
				ROW_NUMBER() OVER (PARTITION BY service, node ORDER BY at_ms DESC, id DESC) AS newest
			FROM changes WHERE level = $1 AND replica = '' AND at_ms < $2) last
		WHERE newest = 1`, string(LevelNode), ms(since))); err != nil {
		return nil, fmt.Errorf("timelines: %w", err)
	}
	if err := scan(s.r.QueryContext(ctx, `SELECT service, node, at_ms, to_health FROM changes
		WHERE level = $1 AND replica = '' AND at_ms >= $2 AND at_ms < $3
		ORDER BY service, node, at_ms, id`, string(LevelNode), ms(since), ms(until))); err != nil {
		return nil, fmt.Errorf("timelines: %w", err)
	}
	return out, nil
}
