package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	// The store is the one package that knows which SQL drivers exist, so it
	// imports them itself and callers never need a blank import. It opens them
	// through connectors (sql.OpenDB), not through the names they register.
	"modernc.org/sqlite"
)

// SQLite connection settings. The writer is one connection, so writers in
// this process queue in database/sql instead of meeting SQLITE_BUSY; each of
// its transactions starts with BEGIN IMMEDIATE, so another process writing
// the same file makes it wait (busy_timeout) instead of failing half-way.
// WAL lets the readers run while the writer writes, and synchronous=NORMAL is
// the setting WAL is designed for: a committed transaction survives a crash of
// vigil, and only a power cut may lose the last few.
const (
	sqliteWriterParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	sqliteReaderParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

func (s *Store) openSQLite(ctx context.Context, file string) error {
	if file == "" {
		return fmt.Errorf("sqlite: empty path: %w", ErrInvalid)
	}
	if strings.Contains(file, "?") {
		// The driver takes everything after '?' as its parameters.
		return fmt.Errorf("sqlite: path %q contains '?': %w", file, ErrInvalid)
	}
	if err := writable(file); err != nil {
		return fmt.Errorf("sqlite %s: the database cannot be written: %w", file, err)
	}
	w, err := openSQLiteDB(file + "?" + sqliteWriterParams)
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return fmt.Errorf("sqlite %s: %w", file, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return fmt.Errorf("sqlite %s: journal mode is %q, want wal (is the file on a network file system?)", file, mode)
	}
	if err := migrate(ctx, w, SQLite, func(context.Context, *sql.Tx) error {
		return nil // BEGIN IMMEDIATE already holds the write lock
	}); err != nil {
		w.Close()
		return fmt.Errorf("sqlite %s: %w", file, err)
	}
	// SQLite opens a file it may not write read-only without a word; a
	// write now turns that into an error at start rather than at every
	// write later.
	if err := writeCheck(ctx, w); err != nil {
		w.Close()
		return fmt.Errorf("sqlite %s: the database cannot be written: %w", file, err)
	}
	r, err := openSQLiteDB(file + "?" + sqliteReaderParams)
	if err != nil {
		w.Close()
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("sqlite %s: %w", file, err)
	}
	s.w, s.r = w, r
	s.placeholder = func(int) string { return "?" }
	return nil
}

func openSQLiteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return sql.OpenDB(c), nil
}

// writable checks that vigil may write the database file, if it exists, and
// its directory, where SQLite creates its write-ahead log.
func writable(file string) error {
	dir := filepath.Dir(file)
	if err := access(dir); err != nil {
		return fmt.Errorf("its directory %s: %w", dir, err)
	}
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return access(file)
}

// writeCheck makes a write and rolls it back: it fails on a database that
// cannot be written, and leaves nothing for another vigil opening the same
// file at the same moment to trip on (the write waits for its lock).
func writeCheck(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `CREATE TABLE write_check (x INTEGER)`)
	return err
}
