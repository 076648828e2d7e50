package store

// Push and local replicas. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

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
