// Package storetest gives tests of other packages a fresh, empty database
// on each backend: a SQLite file in the test's temporary directory, or a
// schema of its own in the PostgreSQL test database, dropped at the end.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/pgtest"
)

// SQLite returns the configuration of a new, empty SQLite database.
func SQLite(t testing.TB) store.Config {
	return store.Config{Driver: store.SQLite, Path: filepath.Join(t.TempDir(), "vigil.db")}
}

// Postgres returns the configuration of a new, empty schema in the test
// database, dropped when the test ends; see pgtest.FreshSchema.
func Postgres(t testing.TB) store.Config {
	t.Helper()
	return store.Config{Driver: store.Postgres, URL: pgtest.FreshSchema(t)}
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
