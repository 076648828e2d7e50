package store

// Incidents. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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
