package store

// Status changes. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"fmt"
)

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
