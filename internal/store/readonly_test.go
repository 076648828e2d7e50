package store

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readOnly makes path unwritable for this process until the test ends:
// chmod for a user, the immutable attribute for root (whom modes do not
// stop).
func readOnly(t *testing.T, path string) {
	t.Helper()
	if os.Getuid() != 0 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o444)
		if fi.IsDir() {
			mode = 0o555
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(path, fi.Mode()) })
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s read-only as root: chattr: %v %s", path, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}

// TestOpenRefusesReadOnly: a SQLite database that cannot be written is an
// error at open that says so, not a store whose every write fails later.
func TestOpenRefusesReadOnly(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, lock string }{{"file", "vigil.db"}, {"directory", "."}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "vigil.db")
			st, err := Open(ctx, Config{Path: db})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			readOnly(t, filepath.Join(dir, c.lock))
			st, err = Open(ctx, Config{Path: db})
			if err == nil {
				st.Close()
				t.Fatalf("Open of a read-only %s succeeded, want an error", c.name)
			}
			if msg := err.Error(); !strings.Contains(msg, db) || !strings.Contains(msg, "cannot be written") {
				t.Errorf("error = %q, want it to name the file and say it cannot be written", msg)
			}
		})
	}
}
