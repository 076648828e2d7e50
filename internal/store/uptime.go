package store

import (
	"slices"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// span is the half-open time range [start, end).
type span struct{ start, end time.Time }

// point says that the status is health from at until the next point.
type point struct {
	at     time.Time
	health status.Health
}

// uptime splits [since, until) into up, down, no data and maintenance.
//
// points must be sorted by time; the last one at or before an instant gives
// the status then, and points before since set the status at since. Time is
// "no data" when no running span covers it or no point precedes it.
// Maintenance wins over everything else: planned work is left out of the
// ratio whether the node was dead or vigil was stopped.
//
// It also returns the worst status recorded while vigil was running in the
// range (maintenance included), or healthy if none was.
func uptime(since, until time.Time, points []point, running, maintenance []span) (UptimeReport, status.Health) {
	var rep UptimeReport
	worst := status.Healthy
	if !until.After(since) {
		return rep, worst
	}
	running = union(running, since, until)
	maintenance = union(maintenance, since, until)

	cuts := []time.Time{since, until}
	for _, p := range points {
		if p.at.After(since) && p.at.Before(until) {
			cuts = append(cuts, p.at)
		}
	}
	for _, sp := range [][]span{running, maintenance} {
		for _, s := range sp {
			cuts = append(cuts, s.start, s.end)
		}
	}
	slices.SortFunc(cuts, time.Time.Compare)
	cuts = slices.CompactFunc(cuts, time.Time.Equal)

	var (
		pi, ri, mi int
		known      bool
		health     status.Health
	)
	for i := 0; i+1 < len(cuts); i++ {
		a, d := cuts[i], cuts[i+1].Sub(cuts[i])
		for pi < len(points) && !points[pi].at.After(a) {
			known, health = true, points[pi].health
			pi++
		}
		for ri < len(running) && !running[ri].end.After(a) {
			ri++
		}
		for mi < len(maintenance) && !maintenance[mi].end.After(a) {
			mi++
		}
		covered := ri < len(running) && !running[ri].start.After(a)
		inMaintenance := mi < len(maintenance) && !maintenance[mi].start.After(a)
		if covered && known {
			worst = status.Worst(worst, health)
		}
		switch {
		case inMaintenance:
			rep.Maintenance += d
		case !covered || !known:
			rep.NoData += d
		case health == status.Dead:
			rep.Down += d
		default:
			rep.Up += d
		}
	}
	if total := rep.Up + rep.Down; total > 0 {
		rep.HasData = true
		rep.Ratio = float64(rep.Up) / float64(total)
	}
	return rep, worst
}

// union clips spans to [since, until) and merges those that overlap or touch,
// returning them sorted and disjoint. Empty spans disappear.
func union(spans []span, since, until time.Time) []span {
	var out []span
	for _, s := range spans {
		if s.start.Before(since) {
			s.start = since
		}
		if s.end.After(until) {
			s.end = until
		}
		if s.end.After(s.start) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && !s.start.After(merged[n-1].end) {
			if s.end.After(merged[n-1].end) {
				merged[n-1].end = s.end
			}
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// maintenanceSpans returns the spans of the windows that cover the node (or
// service, or page).
func maintenanceSpans(windows []Window, service, node string) []span {
	var out []span
	for _, w := range windows {
		if w.Covers(service, node) {
			out = append(out, span{w.Start, w.End})
		}
	}
	return out
}
