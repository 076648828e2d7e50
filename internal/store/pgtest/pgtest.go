// Package pgtest gives tests a PostgreSQL schema of their own on the test
// server. It imports nothing of Vigil but the test kit, so that every
// package's tests, the store's included, can use it.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/vigil-go/vigil/internal/testkit/requires"
)

// DefaultPostgres is the test server every project machine runs (trust auth).
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// FreshSchema returns the URL of a new, empty schema in the test database
// (the URL selects it with search_path), dropped when the test ends, so
// tests can run in parallel and leave nothing behind. Without a server the
// test is skipped, or fails under VIGIL_REQUIRE_POSTGRES=1 (scripts/test).
// VIGIL_TEST_POSTGRES overrides the server's URL (scripts/test sets it when
// it runs a server of its own).
func FreshSchema(t testing.TB) string {
	t.Helper()
	base, admin := connect(t)
	ctx := context.Background()
	schema := freshName()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("VIGIL_TEST_POSTGRES must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// FreshDatabase creates a new, empty database on the test server and returns
// its URL and a connection to the server's test database, from which a test
// may act on it (ALTER DATABASE, pg_terminate_backend). The database is
// dropped, with its connections, when the test ends.
func FreshDatabase(t testing.TB) (dbURL, name string, admin *sql.DB) {
	t.Helper()
	base, admin := connect(t)
	name = freshName()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("VIGIL_TEST_POSTGRES must be a URL: %v", err)
	}
	u.Path = "/" + name
	return u.String(), name, admin
}

// connect opens the test server, closed when the test ends, and returns its
// URL. Without a server the test is skipped, or fails under
// VIGIL_REQUIRE_POSTGRES=1.
func connect(t testing.TB) (string, *sql.DB) {
	t.Helper()
	base := os.Getenv("VIGIL_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("VIGIL_TEST_POSTGRES: %v", err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(context.Background()); err != nil {
		requires.Postgres.Missing(t, "no answer at %s:%d (%v); ./scripts/test starts one, "+
			"or point VIGIL_TEST_POSTGRES at a server", cfg.Host, cfg.Port, err)
	}
	return base, admin
}

// freshName is a random name for a schema or a database.
func freshName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("vigil_test_%x", b)
}
