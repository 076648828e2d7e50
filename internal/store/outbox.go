package store

// Alert outbox. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Enqueue adds entries to the outbox, all or none, and returns how many were
// new. An entry whose ID is already in the outbox, in any state, is skipped:
// enqueueing the same alert twice (after a restart, or from two instances)
// sends it once. A zero NextAttempt means CreatedAt.
func (s *Store) Enqueue(ctx context.Context, entries []OutboxEntry) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for _, e := range entries {
		if e.ID == "" || e.Channel == "" || e.CreatedAt.IsZero() {
			return 0, fmt.Errorf("enqueue %q to %q: id, channel and creation time are required: %w", e.ID, e.Channel, ErrInvalid)
		}
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox (id, channel, target, payload, created_ms, next_ms)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			next := e.NextAttempt
			if next.IsZero() {
				next = e.CreatedAt
			}
			payload := e.Payload
			if payload == nil {
				payload = []byte{}
			}
			res, err := stmt.ExecContext(ctx, e.ID, e.Channel, e.Target, payload, ms(e.CreatedAt), ms(next))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return added, nil
}

const outboxColumns = `seq, id, channel, target, payload, created_ms, next_ms, attempts, last_error, state, done_ms`

func scanOutbox(rows *sql.Rows) ([]OutboxEntry, error) {
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var (
			e             OutboxEntry
			created, next int64
			done          sql.Null[int64]
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.Channel, &e.Target, &e.Payload, &created, &next,
			&e.Attempts, &e.LastError, &e.State, &done); err != nil {
			return nil, err
		}
		e.CreatedAt, e.NextAttempt, e.Done = fromMS(created), fromMS(next), fromNullMS(done)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Due returns the channel's entries to attempt at now, in insertion order:
// for each target, its oldest pending entry, if its NextAttempt has come.
// So a later message never overtakes an earlier one to the same target, and
// a target whose deliveries keep failing does not hold up the others.
// limit <= 0 means no limit.
//
// Entries stay pending until MarkDelivered or GiveUp: delivery is at least
// once, and one process (the cluster leader) should deliver each channel.
func (s *Store) Due(ctx context.Context, channel string, now time.Time, limit int) ([]OutboxEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox
		WHERE channel = $1 AND state = 'pending' AND next_ms <= $2
		AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.channel = outbox.channel AND p.target = outbox.target
			AND p.state = 'pending' AND p.seq < outbox.seq)
		ORDER BY seq LIMIT $3`, channel, ms(now), rowLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("due %q: %w", channel, err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("due %q: %w", channel, err)
	}
	return out, nil
}

// PendingCount returns how many entries of the channel are still pending:
// due, waiting for a retry, or queued behind an earlier message to the
// same target. It is one count over the outbox_pending index.
func (s *Store) PendingCount(ctx context.Context, channel string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE channel = $1 AND state = 'pending'`, channel).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pending count %q: %w", channel, err)
	}
	return n, nil
}

// OutboxEntry returns one entry by its ID, in whatever state. It returns
// ErrNotFound if there is no such entry.
func (s *Store) OutboxEntry(ctx context.Context, id string) (OutboxEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1`, id)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox entry %q: %w", id, err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox entry %q: %w", id, err)
	}
	if len(out) == 0 {
		return OutboxEntry{}, fmt.Errorf("outbox entry %q: %w", id, ErrNotFound)
	}
	return out[0], nil
}

// MarkDelivered records that an entry was delivered at t; it will not be due
// again. Marking a delivered entry again changes nothing; a given-up entry
// that was delivered after all becomes delivered. It returns ErrNotFound if
// there is no such entry.
func (s *Store) MarkDelivered(ctx context.Context, id string, t time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'delivered', done_ms = $1
			WHERE id = $2 AND state <> 'delivered'`, ms(t), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE id = $1`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mark delivered %q: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed attempt of a pending entry: it counts the
// attempt, keeps errText, and makes the entry due again at next. It returns
// ErrNotFound if there is no pending entry with that id.
func (s *Store) MarkFailed(ctx context.Context, id, errText string, next time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOne(ctx, fmt.Sprintf("mark failed %q", id), `UPDATE outbox
		SET attempts = attempts + 1, last_error = $1, next_ms = $2 WHERE id = $3 AND state = 'pending'`,
		errText, ms(next), id)
}

// Abandon gives up one pending entry at now, keeping errText: a failure
// that no retry can fix (the server rejected the message, or the target is
// no longer configured). It returns ErrNotFound if there is no pending entry
// with that id.
func (s *Store) Abandon(ctx context.Context, id, errText string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOne(ctx, fmt.Sprintf("abandon %q", id), `UPDATE outbox
		SET state = 'given_up', attempts = attempts + 1, last_error = $1, done_ms = $2
		WHERE id = $3 AND state = 'pending'`, errText, ms(now), id)
}

// GiveUp ends the pending entries created before olderThan, marking them
// given up at now, and returns them in insertion order so the caller can log
// each one.
func (s *Store) GiveUp(ctx context.Context, olderThan, now time.Time) ([]OutboxEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out []OutboxEntry
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET state = 'given_up', done_ms = $1
			WHERE state = 'pending' AND created_ms < $2 RETURNING `+outboxColumns, ms(now), ms(olderThan))
		if err != nil {
			return err
		}
		out, err = scanOutbox(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("give up: %w", err)
	}
	slices.SortFunc(out, func(a, b OutboxEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
