package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	// The store is the one package that knows which SQL drivers exist, so it
	// imports them itself and callers never need a blank import. pgx/v5/stdlib
	// lets PostgreSQL share the database/sql code with SQLite.
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrationLock is the first key of the transaction-scoped advisory lock that
// serialises migrations; the second is a hash of the schema, so instances
// migrating different schemas of one database do not wait for each other.
const migrationLock = 0x76696731 // "vig1"

func (s *Store) openPostgres(ctx context.Context, url string) error {
	if url == "" {
		return fmt.Errorf("postgres: empty URL: %w", ErrInvalid)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx masks the password in its parse errors.
		return fmt.Errorf("postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return fmt.Errorf("postgres %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	if err := migrate(ctx, db, Postgres, func(ctx context.Context, tx *sql.Tx) error {
		// current_schema() is NULL when no schema on the search path exists;
		// the lock functions are strict and would then silently not lock.
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))`, migrationLock)
		return err
	}); err != nil {
		db.Close()
		return fmt.Errorf("postgres %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	s.w, s.r = db, db
	s.placeholder = func(n int) string { return "$" + strconv.Itoa(n) }
	return nil
}
