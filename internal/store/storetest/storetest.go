// Package storetest gives tests of other packages a fresh, empty database
// on each backend: a SQLite file in the test's temporary directory, or a
// schema of its own in the PostgreSQL test database, dropped at the end.
package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/vigil-go/vigil/internal/store"
)

// DefaultPostgres is the test server every project machine runs (trust auth).
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// SQLite returns the configuration of a new, empty SQLite database.
func SQLite(t testing.TB) store.Config {
	return store.Config{Driver: store.SQLite, Path: filepath.Join(t.TempDir(), "vigil.db")}
}

// Postgres returns the configuration of a new, empty schema in the test
// database (its URL selects the schema with search_path), dropped when the
// test ends. Without a server the test fails, unless VIGIL_SKIP_POSTGRES=1
// asks to skip it. VIGIL_TEST_POSTGRES overrides the server's URL.
func Postgres(t testing.TB) store.Config {
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
	ctx := context.Background()
	if err := admin.PingContext(ctx); err != nil {
		if os.Getenv("VIGIL_SKIP_POSTGRES") == "1" {
			t.Skipf("PostgreSQL at %s:%d unreachable (%v); skipped because VIGIL_SKIP_POSTGRES=1", cfg.Host, cfg.Port, err)
		}
		t.Fatalf("PostgreSQL at %s:%d unreachable: %v\n"+
			"start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "+
			"or set VIGIL_SKIP_POSTGRES=1 to skip the PostgreSQL tests", cfg.Host, cfg.Port, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := fmt.Sprintf("vigil_test_%x", b)
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
	return store.Config{Driver: store.Postgres, URL: u.String()}
}

// Open opens cfg and closes the store when the test ends.
func Open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s store: %v", cfg.Driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Backends runs fn once per backend, as subtests "sqlite" and "postgres".
func Backends(t *testing.T, fn func(t *testing.T, fresh func(testing.TB) store.Config)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite) })
	t.Run("postgres", func(t *testing.T) {
		Postgres(t) // fail or skip once, here, if the server is missing
		fn(t, Postgres)
	})
}
