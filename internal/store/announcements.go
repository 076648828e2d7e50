package store

// Announcements. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

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
