package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateDir: by default each run gets a new directory, removed at
// exit; -state keeps the database across runs; -reset removes only the
// database's files, never anything else in the directory.
func TestStateDir(t *testing.T) {
	dir, cleanup, err := stateDir("", false)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if strings.HasPrefix(dir, wd) {
		t.Errorf("default state %s is under the working directory", dir)
	}
	other, cleanupOther, err := stateDir("", false)
	if err != nil {
		t.Fatal(err)
	}
	if other == dir {
		t.Error("two runs share a default state directory")
	}
	cleanupOther()
	os.WriteFile(filepath.Join(dir, "vigil.db"), []byte("x"), 0o600)
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("default state %s still there after the demo stopped: %v", dir, err)
	}

	keep := filepath.Join(t.TempDir(), "demo")
	got, cleanup, err := stateDir(keep, false)
	if err != nil || got != keep {
		t.Fatalf("stateDir(%q) = %q, %v", keep, got, err)
	}
	cleanup()
	for _, name := range []string{"vigil.db", "vigil.db-wal", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(keep, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, cleanup, err = stateDir(keep, false); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Join(keep, "vigil.db")); err != nil {
		t.Errorf("-state without -reset lost the database: %v", err)
	}
	if _, cleanup, err = stateDir(keep, true); err != nil {
		t.Fatal(err)
	}
	cleanup()
	for name, want := range map[string]bool{"vigil.db": false, "vigil.db-wal": false, "notes.txt": true} {
		_, err := os.Stat(filepath.Join(keep, name))
		if exists := err == nil; exists != want {
			t.Errorf("after -reset, %s exists = %v, want %v", name, exists, want)
		}
	}

	if _, _, err := stateDir("", true); err == nil {
		t.Error("-reset without -state was accepted")
	}
}
