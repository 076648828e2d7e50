package store

// Subscribers to updates, the keys that sign their confirmation links, and
// which events they were already sent. Every statement here runs unchanged
// on SQLite and PostgreSQL.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kinds of subscriber.
const (
	SubscriberEmail   = "email"   // a visitor's address, from the page or the manager API
	SubscriberWebhook = "webhook" // a partner's URL, from the manager API only
)

// ErrFull means a bound was reached: too many subscribers wait for their
// confirmation. Retrying later may succeed.
var ErrFull = errors.New("full")

// Subscriber is one recipient of updates.
type Subscriber struct {
	ID      string // random, assigned by the store
	Kind    string // SubscriberEmail or SubscriberWebhook
	Address string // the e-mail address, or the webhook URL
	// Services are the ids of the services the subscriber hears about;
	// empty means every service.
	Services []string
	// Secret signs a webhook's payloads; empty for e-mail.
	Secret    string
	Confirmed bool
	Created   time.Time
	// ConfirmedAt is when the address was confirmed; zero while pending.
	ConfirmedAt time.Time
	// Token unsubscribes the subscriber: it is in every message's
	// unsubscribe link. Random, assigned by the store.
	Token string
}

// SigningKey is a secret that signs confirmation links.
type SigningKey struct {
	ID      string
	Secret  []byte
	Created time.Time
}

// SubscriptionEvent is an event sent to subscribers, by its key.
type SubscriptionEvent struct {
	Key string
	At  time.Time // when it happened; events are pruned by it
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}

const subscriberColumns = `id, kind, address, services, secret, state, created_ms, confirmed_ms, token`

func scanSubscribers(rows *sql.Rows) ([]Subscriber, error) {
	defer rows.Close()
	var out []Subscriber
	for rows.Next() {
		var (
			sub       Subscriber
			services  string
			state     string
			created   int64
			confirmed sql.Null[int64]
		)
		if err := rows.Scan(&sub.ID, &sub.Kind, &sub.Address, &services, &sub.Secret, &state, &created, &confirmed, &sub.Token); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(services), &sub.Services); err != nil {
			return nil, fmt.Errorf("subscriber %s: services: %w", sub.ID, err)
		}
		sub.Confirmed = state == "confirmed"
		sub.Created, sub.ConfirmedAt = fromMS(created), fromNullMS(confirmed)
		out = append(out, sub)
	}
	return out, rows.Err()
}

// AddSubscriber adds sub under a new id and unsubscribe token, pending
// unless sub.Confirmed (then confirmed at sub.Created). When the kind and
// address are already subscribed, pending or not, nothing changes and the
// existing subscriber is returned with existed true. While maxPending
// subscribers are pending (maxPending > 0), adding a pending one is
// refused with ErrFull whether or not the address is known, so that the
// refusal tells nothing about who subscribed.
func (s *Store) AddSubscriber(ctx context.Context, sub Subscriber, maxPending int) (_ Subscriber, existed bool, _ error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if (sub.Kind != SubscriberEmail && sub.Kind != SubscriberWebhook) || sub.Address == "" || sub.Created.IsZero() {
		return Subscriber{}, false, fmt.Errorf("add subscriber: kind, address and creation time are required: %w", ErrInvalid)
	}
	if err := checkTexts("add subscriber", append([]string{sub.Address, sub.Secret}, sub.Services...)...); err != nil {
		return Subscriber{}, false, err
	}
	if sub.Services == nil {
		sub.Services = []string{}
	}
	services, err := json.Marshal(sub.Services)
	if err != nil {
		return Subscriber{}, false, fmt.Errorf("add subscriber: %w", err)
	}
	sub.ID, sub.Token = randomHex(12), randomHex(24)
	sub.Created = fromMS(ms(sub.Created))
	state := "pending"
	if sub.Confirmed {
		state, sub.ConfirmedAt = "confirmed", sub.Created
	}
	var found []Subscriber
	err = s.write(ctx, func(tx *sql.Tx) error {
		if !sub.Confirmed && maxPending > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM subscribers WHERE state = 'pending'`).Scan(&n); err != nil {
				return err
			}
			if n >= maxPending {
				return ErrFull
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE kind = $1 AND address = $2`, sub.Kind, sub.Address)
		if err != nil {
			return err
		}
		if found, err = scanSubscribers(rows); err != nil || len(found) > 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO subscribers (id, kind, address, services, secret, state, created_ms, confirmed_ms, token)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			sub.ID, sub.Kind, sub.Address, string(services), sub.Secret, state, ms(sub.Created), nullMS(sub.ConfirmedAt), sub.Token)
		return err
	})
	if err != nil {
		return Subscriber{}, false, fmt.Errorf("add subscriber: %w", err)
	}
	if len(found) > 0 {
		return found[0], true, nil
	}
	return sub, false, nil
}

// Subscriber returns one subscriber by id, or ErrNotFound.
func (s *Store) Subscriber(ctx context.Context, id string) (Subscriber, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE id = $1`, id)
	if err != nil {
		return Subscriber{}, fmt.Errorf("subscriber %q: %w", id, err)
	}
	out, err := scanSubscribers(rows)
	if err != nil {
		return Subscriber{}, fmt.Errorf("subscriber %q: %w", id, err)
	}
	if len(out) == 0 {
		return Subscriber{}, fmt.Errorf("subscriber %q: %w", id, ErrNotFound)
	}
	return out[0], nil
}

// Subscribers returns every subscriber in the order they were added, or
// only the confirmed ones.
func (s *Store) Subscribers(ctx context.Context, confirmedOnly bool) ([]Subscriber, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	q := `SELECT ` + subscriberColumns + ` FROM subscribers ORDER BY seq`
	if confirmedOnly {
		q = `SELECT ` + subscriberColumns + ` FROM subscribers WHERE state = 'confirmed' ORDER BY seq`
	}
	rows, err := s.r.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	out, err := scanSubscribers(rows)
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	return out, nil
}

// ConfirmSubscriber confirms a pending subscriber at t; confirming again
// changes nothing. It returns ErrNotFound if there is no such subscriber.
func (s *Store) ConfirmSubscriber(ctx context.Context, id string, t time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET state = 'confirmed', confirmed_ms = $1
			WHERE id = $2 AND state = 'pending'`, ms(t), id); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM subscribers WHERE id = $1`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("confirm subscriber %q: %w", id, err)
	}
	return nil
}

// DeleteSubscriber removes a subscriber by id. It returns ErrNotFound if
// there is no such subscriber.
func (s *Store) DeleteSubscriber(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOne(ctx, fmt.Sprintf("delete subscriber %q", id), `DELETE FROM subscribers WHERE id = $1`, id)
}

// Unsubscribe removes the subscriber holding token, at once. It returns
// ErrNotFound if no subscriber holds it (already unsubscribed).
func (s *Store) Unsubscribe(ctx context.Context, token string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if token == "" {
		return fmt.Errorf("unsubscribe: %w", ErrNotFound)
	}
	return s.execOne(ctx, "unsubscribe", `DELETE FROM subscribers WHERE token = $1`, token)
}

// PrunePending removes the subscribers still pending that were added
// before olderThan: their confirmation link has expired. It returns how
// many were removed.
func (s *Store) PrunePending(ctx context.Context, olderThan time.Time) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE state = 'pending' AND created_ms < $1`, ms(olderThan))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune pending subscribers: %w", err)
	}
	return n, nil
}

// SigningKeys returns the keys that sign confirmation links, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT id, secret, created_ms FROM subscription_keys ORDER BY created_ms DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var (
			k       SigningKey
			created int64
		)
		if err := rows.Scan(&k.ID, &k.Secret, &created); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		k.Created = fromMS(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return out, nil
}

// AddSigningKey stores a new key; a key with the same id is kept as it was.
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if k.ID == "" || len(k.Secret) < 16 || k.Created.IsZero() {
		return fmt.Errorf("add signing key: an id, a secret of 16 bytes or more and a creation time are required: %w", ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO subscription_keys (id, secret, created_ms) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, k.ID, k.Secret, ms(k.Created))
		return err
	})
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}

// DeleteSigningKeys removes the keys created before t, and returns how
// many.
func (s *Store) DeleteSigningKeys(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscription_keys WHERE created_ms < $1`, ms(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete signing keys: %w", err)
	}
	return n, nil
}

// SubscriptionsStart returns when subscriptions started on this database:
// the first call stores now, every later one returns what it stored. No
// event before it is sent to subscribers.
func (s *Store) SubscriptionsStart(ctx context.Context, now time.Time) (time.Time, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var v int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_state (name, value_ms) VALUES ('start', $1)
			ON CONFLICT (name) DO NOTHING`, ms(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value_ms FROM subscription_state WHERE name = 'start'`).Scan(&v)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("subscriptions start: %w", err)
	}
	return fromMS(v), nil
}

// SentEvents returns the keys of the events sent to subscribers that
// happened at or after since.
func (s *Store) SentEvents(ctx context.Context, since time.Time) (map[string]bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT key FROM subscription_events WHERE at_ms >= $1`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("sent events: %w", err)
	}
	defer rows.Close()
	out := make(map[string]bool)
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sent events: %w", err)
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sent events: %w", err)
	}
	return out, nil
}

// MarkEventsSent records events as sent to subscribers; marking one again
// changes nothing.
func (s *Store) MarkEventsSent(ctx context.Context, events []SubscriptionEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, e := range events {
			if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_events (key, at_ms) VALUES ($1, $2)
				ON CONFLICT (key) DO NOTHING`, e.Key, ms(e.At)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark events sent: %w", err)
	}
	return nil
}

// PruneSentEvents forgets the sent events that happened before t.
func (s *Store) PruneSentEvents(ctx context.Context, before time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM subscription_events WHERE at_ms < $1`, ms(before))
		return err
	})
	if err != nil {
		return fmt.Errorf("prune sent events: %w", err)
	}
	return nil
}
