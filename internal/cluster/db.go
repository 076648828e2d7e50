package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-go/vigil/internal/status"
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

func readDecided(ctx context.Context, q querier) (map[Key]Decision, error) {
	rows, err := q.Query(ctx, `SELECT service, node, replica, health, reason, since_ms, version FROM cluster_decided`)
	if err != nil {
		return nil, err
	}
	out := map[Key]Decision{}
	for rows.Next() {
		var k Key
		var d Decision
		var h string
		if err := rows.Scan(&k.Service, &k.Node, &k.Replica, &h, &d.Reason, &d.SinceMS, &d.Version); err != nil {
			return nil, err
		}
		if d.Health, err = status.ParseHealth(h); err != nil {
			return nil, fmt.Errorf("cluster_decided %v: %w", k, err)
		}
		out[k] = d
	}
	return out, rows.Err()
}

// readObservations returns the fresh observations of live members, by
// replica, for the replicas of nodes in modes (the local tree: an
// observation of a replica this member's config lacks is ignored).
func readObservations(ctx context.Context, q querier, now int64, members []Member,
	modes map[[2]string]status.Mode, fresh func(service, node string, mode status.Mode) time.Duration) (map[Key][]Observation, error) {
	live := map[string]string{}
	for _, m := range members {
		if m.Live {
			live[m.NodeID] = m.Label
		}
	}
	// Unordered: sorting every row by four text columns cost PostgreSQL more
	// than sorting each replica's few observations here.
	rows, err := q.Query(ctx, `SELECT member, service, node, replica, health, latency_ms, reason, observed_ms FROM cluster_observations`)
	if err != nil {
		return nil, err
	}
	out := map[Key][]Observation{}
	for rows.Next() {
		var k Key
		var o Observation
		var h string
		if err := rows.Scan(&o.Member, &k.Service, &k.Node, &k.Replica, &h, &o.Latency, &o.Reason, &o.AtMS); err != nil {
			return nil, err
		}
		label, isLive := live[o.Member]
		mode, known := modes[[2]string{k.Service, k.Node}]
		if !isLive || !known || now-o.AtMS > fresh(k.Service, k.Node, mode).Milliseconds() {
			continue
		}
		if o.Health, err = status.ParseHealth(h); err != nil {
			return nil, fmt.Errorf("cluster_observations %v: %w", k, err)
		}
		o.Label = label
		out[k] = append(out[k], o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, obs := range out {
		slices.SortFunc(obs, func(a, b Observation) int { return strings.Compare(a.Member, b.Member) })
	}
	return out, nil
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

// sameView reports whether two views would serve the same snapshot.
func sameView(a, b view) bool {
	if a.leader != b.leader || describeMembers(a.members) != describeMembers(b.members) {
		return false
	}
	if !maps.Equal(a.decided, b.decided) || len(a.observed) != len(b.observed) {
		return false
	}
	for k, ao := range a.observed {
		bo, ok := b.observed[k]
		if !ok || !slices.EqualFunc(ao, bo, func(x, y Observation) bool {
			return x.Member == y.Member && x.Label == y.Label && x.Health == y.Health && x.Reason == y.Reason
		}) {
			return false
		}
	}
	return true
}
