package store

// Reminder state. Every statement here runs unchanged on SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Reminder returns the reminder state of a scope ("" for the page-wide
// status), and false if none was stored yet.
func (s *Store) Reminder(ctx context.Context, scope string) (ReminderState, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var (
		st               ReminderState
		notified, ignore sql.Null[int64]
		last, dead       string
	)
	err := s.r.QueryRowContext(ctx, `SELECT last_notified_ms, backoff, escalation, ignore_until_ms, last_status, last_dead, outage
		FROM reminders WHERE scope = $1`, scope).Scan(&notified, &st.Backoff, &st.Escalation, &ignore, &last, &dead, &st.Outage)
	if errors.Is(err, sql.ErrNoRows) {
		return ReminderState{}, false, nil
	}
	if err != nil {
		return ReminderState{}, false, fmt.Errorf("reminder %q: %w", scope, err)
	}
	st.LastNotified, st.IgnoreUntil = fromNullMS(notified), fromNullMS(ignore)
	if st.LastStatus, err = scanHealth(last); err != nil {
		return ReminderState{}, false, fmt.Errorf("reminder %q: %w", scope, err)
	}
	if st.LastDead, err = decodeList(dead); err != nil {
		return ReminderState{}, false, fmt.Errorf("reminder %q: %w", scope, err)
	}
	return st, true, nil
}

// PutReminder replaces the reminder state of a scope.
func (s *Store) PutReminder(ctx context.Context, scope string, st ReminderState) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !validHealth(st.LastStatus) {
		return fmt.Errorf("put reminder %q: health %v: %w", scope, st.LastStatus, ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO reminders
			(scope, last_notified_ms, backoff, escalation, ignore_until_ms, last_status, last_dead, outage)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (scope) DO UPDATE SET
				last_notified_ms = excluded.last_notified_ms, backoff = excluded.backoff,
				escalation = excluded.escalation, ignore_until_ms = excluded.ignore_until_ms,
				last_status = excluded.last_status, last_dead = excluded.last_dead, outage = excluded.outage`,
			scope, nullMS(st.LastNotified), st.Backoff, st.Escalation, nullMS(st.IgnoreUntil),
			st.LastStatus.String(), encodeList(st.LastDead), st.Outage)
		return err
	})
	if err != nil {
		return fmt.Errorf("put reminder %q: %w", scope, err)
	}
	return nil
}
