package cluster

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what both a pool and a dedicated connection offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// readMembers returns every member with its liveness at now (database clock).
func readMembers(ctx context.Context, q querier, now int64, timeout time.Duration) ([]Member, error) {
	rows, err := q.Query(ctx, `SELECT node_id, label, heartbeat_ms, started_ms FROM cluster_members ORDER BY node_id`)
	if err != nil {
		return nil, err
	}
	var out []Member
	for rows.Next() {
		var m Member
		var hb, started int64
		if err := rows.Scan(&m.NodeID, &m.Label, &hb, &started); err != nil {
			return nil, err
		}
		m.HeartbeatAt, m.StartedAt = time.UnixMilli(hb).UTC(), time.UnixMilli(started).UTC()
		m.Live = now-hb <= timeout.Milliseconds()
		out = append(out, m)
	}
	return out, rows.Err()
}

// describeMembers is the members' line in the logs: "a (eu-west), b (us-east, down)".
func describeMembers(ms []Member) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		s := m.NodeID + " (" + m.Label
		if !m.Live {
			s += ", down"
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}
