// Package store keeps Vigil's history and durable state: status changes,
// rolled-up probe samples, when vigil itself was running, push and local
// replicas, announcements, maintenance windows, incidents, reminder state and
// the alert outbox.
//
// Two backends share one set of SQL statements: embedded SQLite (the
// default; pure Go, one file) and PostgreSQL (for several vigil instances on
// one database). Only opening a connection, guarding migrations and naming
// generated parameters differ between them, in sqlite.go and postgres.go.
// Both accept the same ON
// CONFLICT upserts and RETURNING clauses, and both bind parameters written as
// $1, $2, … (modernc.org/sqlite binds "$N" by position, as PostgreSQL does),
// so no query is rewritten per backend. The one exception is statements with
// hundreds of generated parameters: SQLite looks "$N" names up one by one,
// which makes them quadratic, so those use the dialect's placeholder ("?").
//
// Every time is stored as Unix milliseconds and returned in UTC, so times
// read back are truncated to the millisecond. The package has no clock: every
// method that needs "now" takes it as an argument.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors callers can test for with errors.Is.
var (
	// ErrNotFound means the record addressed by an id or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the arguments were rejected, before reaching the
	// database or by it: retrying the same write cannot succeed.
	ErrInvalid = errors.New("invalid")
	// ErrConflict means the record exists but is not in a state that allows
	// the operation (resolving an incident twice).
	ErrConflict = errors.New("conflict")
)

// Drivers accepted in Config.Driver.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Config says which database to open and how long history is kept.
type Config struct {
	// Driver is SQLite (the default when empty) or Postgres.
	Driver string
	// Path is the SQLite database file. Its directory must exist.
	Path string
	// URL is the PostgreSQL connection string, as a URL
	// ("postgres://user@host:5432/db?sslmode=disable") or key=value pairs.
	URL string
	// Retention bounds how long history is kept; see Retention for defaults.
	Retention Retention
	// AliveGap is the longest pause between two MarkAlive calls of one
	// instance that still counts as one running interval. A longer pause
	// means vigil was not running, and that time counts as "no data".
	// Default 90 s, so MarkAlive should be called every 30 s or so.
	AliveGap time.Duration
	// Timeout bounds every call of a method, on top of the caller's own
	// deadline: a database that accepts connections and never answers
	// makes calls fail after it rather than hang their caller forever.
	// Default 30 s, long enough for a prune of a large history.
	Timeout time.Duration
}

// Retention says how long Prune keeps each kind of history. A zero field
// takes its default; a negative one keeps that history forever.
type Retention struct {
	Minutes time.Duration // per-minute sample buckets; default 48 h
	Hours   time.Duration // per-hour sample buckets; default 90 days
	// Changes bounds status changes and vigil's running intervals; default
	// 90 days. The latest change of each replica, node, service and of the
	// page is always kept, however old, because it is the current status.
	Changes time.Duration
	// Incidents bounds resolved incidents and ended maintenance windows;
	// default 365 days. Open incidents are never pruned.
	Incidents time.Duration
	// Outbox bounds delivered and given-up outbox entries; default 7 days.
	// Pending entries are never pruned (GiveUp ends them).
	Outbox time.Duration
}

// Default retention periods and heartbeat gap.
const (
	DefaultMinutes   = 48 * time.Hour
	DefaultHours     = 90 * 24 * time.Hour
	DefaultChanges   = 90 * 24 * time.Hour
	DefaultIncidents = 365 * 24 * time.Hour
	DefaultOutbox    = 7 * 24 * time.Hour
	DefaultAliveGap  = 90 * time.Second
	DefaultTimeout   = 30 * time.Second
)

func (r Retention) withDefaults() Retention {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&r.Minutes, DefaultMinutes)
	def(&r.Hours, DefaultHours)
	def(&r.Changes, DefaultChanges)
	def(&r.Incidents, DefaultIncidents)
	def(&r.Outbox, DefaultOutbox)
	return r
}

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	driver string
	w      *sql.DB // writes; for SQLite exactly one connection
	r      *sql.DB // reads; for PostgreSQL the same pool as w
	// placeholder names parameter n (from 1) in generated statements.
	placeholder func(n int) string
	retention   Retention
	aliveGap    time.Duration
	timeout     time.Duration // Config.Timeout

	mu     sync.Mutex
	series map[seriesKey]int64 // series ids already known to exist
}

// Open opens (creating if needed) the database that cfg names and brings its
// schema up to date. Several processes may Open the same database at once:
// SQLite serialises them on the file lock, PostgreSQL on an advisory lock.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Driver == "" {
		cfg.Driver = SQLite
	}
	if cfg.AliveGap == 0 {
		cfg.AliveGap = DefaultAliveGap
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.AliveGap < 0 {
		return nil, fmt.Errorf("open store: alive gap %v: %w", cfg.AliveGap, ErrInvalid)
	}
	s := &Store{
		driver:    cfg.Driver,
		retention: cfg.Retention.withDefaults(),
		aliveGap:  cfg.AliveGap,
		timeout:   cfg.Timeout,
		series:    make(map[seriesKey]int64),
	}
	var err error
	switch cfg.Driver {
	case SQLite:
		err = s.openSQLite(ctx, cfg.Path)
	case Postgres:
		err = s.openPostgres(ctx, cfg.URL)
	default:
		err = fmt.Errorf("unknown driver %q (want %q or %q): %w", cfg.Driver, SQLite, Postgres, ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Close closes the database. Nothing written before is lost: every write was
// committed when its method returned.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping checks that the database answers, on the connection writes use.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Driver returns SQLite or Postgres.
func (s *Store) Driver() string { return s.driver }

// bound gives ctx the store's deadline unless it already ends sooner. Every
// exported method that reaches the database calls it first.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// write runs fn in a transaction on the writer and commits it if fn
// succeeds. An error the written values caused is ErrInvalid (refusedValue).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(refusedValue(err), ignoreDone(tx.Rollback()))
	}
	return refusedValue(tx.Commit())
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

//go:embed migrations
var migrationFS embed.FS

// A migration is one numbered SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations of one dialect in version order. Versions
// start at 1 and have no gaps, so that a missing file is noticed.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(rest, ".sql") || len(num) != 3 {
			return nil, fmt.Errorf("migration %s/%s: want NNN_name.sql", dir, name)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s/%s: want NNN_name.sql", dir, name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations %s: version %d where %d was expected", dir, m.version, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, all in one transaction,
// after lock has made this the only migrating process.
func migrate(ctx context.Context, db *sql.DB, dialect string, lock func(ctx context.Context, tx *sql.Tx) error) error {
	ms, err := migrations(dialect)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if err := lock(ctx, tx); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_ms BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_version: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema_version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("migrate: the database has schema version %d, newer than this vigil knows (%d): upgrade vigil", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: %03d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, $2, $3)`,
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate: record %03d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// ms converts a time to the stored form.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts a stored time back.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// nullMS stores the zero time as NULL.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromNullMS reads NULL back as the zero time.
func fromNullMS(v sql.Null[int64]) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.V)
}
