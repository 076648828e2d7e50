package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-go/vigil/internal/status"
)

// Push and local replicas report to whichever member the load balancer
// picks. The receiving member applies the report to its own monitor and
// records it; every other member replays it into its monitor, so every
// member knows every push and local replica, and each one's monitor decides
// its health from the reports and their intervals as without a cluster. A
// report is the replica's own word, so it needs no quorum.

// reportRow is one report or flush to record.
type reportRow struct {
	service, node, replica string
	flush                  bool
	report                 status.Report
	at                     time.Time // on this member's clock
}

func (r reportRow) insert(ctx context.Context, tx pgx.Tx, member string, now time.Time) error {
	var cpu, ram *float64
	var health *string
	if r.report.Load != nil {
		cpu, ram = &r.report.Load.CPU, &r.report.Load.RAM
	}
	if r.report.Health != nil {
		h := r.report.Health.String()
		health = &h
	}
	age := max(now.Sub(r.at), 0).Milliseconds()
	_, err := tx.Exec(ctx, `INSERT INTO cluster_reports (member, service, node, replica, flush, interval_ms, cpu, ram, health, at_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, `+nowMS+` - $10)`,
		member, r.service, r.node, r.replica, r.flush, r.report.Interval.Milliseconds(), cpu, ram, health, age)
	return err
}

// Report applies a push or local report to this member's monitor and, when
// the monitor accepted it, records it for the other members.
func (c *Cluster) Report(serviceID, nodeID string, r status.Report) error {
	if err := c.o.Local.Report(serviceID, nodeID, r); err != nil {
		return err
	}
	c.queueReport(reportRow{service: serviceID, node: nodeID, replica: r.Replica, report: r, at: time.Now()})
	return nil
}

// Flush removes a push or local replica here and on the other members.
func (c *Cluster) Flush(serviceID, nodeID, replicaID string) error {
	if err := c.o.Local.Flush(serviceID, nodeID, replicaID); err != nil {
		return err
	}
	c.queueReport(reportRow{service: serviceID, node: nodeID, replica: replicaID, flush: true, at: time.Now()})
	return nil
}

func (c *Cluster) queueReport(r reportRow) {
	c.pendingMu.Lock()
	c.reports = append(c.reports, r)
	c.pendingMu.Unlock()
	c.poke()
}

func (c *Cluster) replayWindow() time.Duration {
	if c.o.ReplayWindow > 0 {
		return c.o.ReplayWindow
	}
	return 10 * time.Minute
}

// replayer applies the reports the other members received, in the order
// the database numbered them.
//
// A report whose transaction commits after one with a higher number was
// read can be skipped; the replica's next report repairs that, well before
// the monitor would consider the replica silent.
func (c *Cluster) replayer(ctx context.Context) {
	last := int64(-1) // -1: not started; start with the replay window
	failing := false
	every(ctx, c.o.Tick, func() {
		rctx, cancel := c.bounded(ctx)
		next, err := c.replay(rctx, last)
		cancel()
		if err != nil {
			if ctx.Err() == nil && !failing {
				c.log.Error("cluster: cannot read the reports of the other members; retrying", "error", err)
			}
			failing = true
			return
		}
		failing = false
		last = next
	})
}

func (c *Cluster) replay(ctx context.Context, after int64) (int64, error) {
	var rows pgx.Rows
	var err error
	const cols = `SELECT seq, service, node, replica, flush, interval_ms, cpu, ram, health FROM cluster_reports`
	if after < 0 {
		rows, err = c.pool.Query(ctx, cols+` WHERE member <> $1 AND at_ms >= `+nowMS+` - $2 ORDER BY seq`,
			c.o.NodeID, c.replayWindow().Milliseconds())
	} else {
		rows, err = c.pool.Query(ctx, cols+` WHERE member <> $1 AND seq > $2 ORDER BY seq`, c.o.NodeID, after)
	}
	if err != nil {
		return after, err
	}
	defer rows.Close()
	last := max(after, 0)
	for rows.Next() {
		var seq, intervalMS int64
		var service, node, replica string
		var flush bool
		var cpu, ram *float64
		var health *string
		if err := rows.Scan(&seq, &service, &node, &replica, &flush, &intervalMS, &cpu, &ram, &health); err != nil {
			return after, err
		}
		last = seq
		if err := c.apply(service, node, replica, flush, intervalMS, cpu, ram, health); err != nil {
			// Members with different configs: say so, once per report.
			c.log.Warn("cluster: report from another member not applied", "replica", status.DeadID(service, node, replica), "error", err)
		}
	}
	if err := rows.Err(); err != nil {
		return after, err
	}
	if after < 0 {
		// Nothing in the window: continue after the newest report.
		if err := c.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM cluster_reports`).Scan(&last); err != nil {
			return after, err
		}
	}
	return last, nil
}

func (c *Cluster) apply(service, node, replica string, flush bool, intervalMS int64, cpu, ram *float64, health *string) error {
	if flush {
		err := c.o.Local.Flush(service, node, replica)
		if errors.Is(err, status.ErrUnknownReplica) {
			return nil // flushed already, or never reported here
		}
		return err
	}
	r := status.Report{Replica: replica, Interval: time.Duration(intervalMS) * time.Millisecond}
	if cpu != nil && ram != nil {
		r.Load = &status.Load{CPU: *cpu, RAM: *ram}
	}
	if health != nil {
		h, err := status.ParseHealth(*health)
		if err != nil {
			return err
		}
		r.Health = &h
	}
	return c.o.Local.Report(service, node, r)
}
