package store

// Maintenance windows. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

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
