package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TestSQLiteSettings checks the connection settings that keep "database is
// locked" away: WAL, a busy timeout, one writer connection, read-only readers.
func TestSQLiteSettings(t *testing.T) {
	s := open(t, freshSQLite(t))
	for _, tt := range []struct {
		reader bool
		pragma string
		want   string
	}{
		{false, "journal_mode", "wal"},
		{false, "busy_timeout", "10000"},
		{false, "foreign_keys", "1"},
		{false, "synchronous", "1"}, // NORMAL
		{false, "query_only", "0"},
		{true, "journal_mode", "wal"},
		{true, "busy_timeout", "10000"},
		{true, "query_only", "1"},
	} {
		db, name := s.w, "writer"
		if tt.reader {
			db, name = s.r, "reader"
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("%s PRAGMA %s: %v", name, tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("%s PRAGMA %s = %q, want %q", name, tt.pragma, got, tt.want)
		}
	}
	if n := s.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", n)
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM changes`); err == nil {
		t.Errorf("a write through the reader pool succeeded, want it refused")
	}
}

// TestSQLiteTwoHandles opens one file twice, as two vigil processes would, or
// as a restarted vigil does while the old process hangs on: the second sees
// everything, and both can write at once without "database is locked".
func TestSQLiteTwoHandles(t *testing.T) {
	cfg := freshSQLite(t)
	a := open(t, cfg) // left open, as if its process hung
	fill(t, a)
	want := snapshot(t, a)
	b := open(t, cfg)
	if got := snapshot(t, b); got != want {
		t.Errorf("second handle sees\n%s\nwant\n%s", got, want)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for i, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for m := range 20 {
				errs <- s.AddSamples(ctx, []Sample{{Time: at(float64(100 + m)), Service: "two", Node: "n", Replica: fmt.Sprint(i), Health: status.Sick}})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AddSamples from two handles: %v", err)
		}
	}
	for _, s := range []*Store{a, b} {
		buckets, err := s.MinuteBuckets(ctx, SeriesKey{Service: "two"}, at(0), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var sick int64
		for _, b := range buckets {
			sick += b.Sick
		}
		if sick != 80 {
			t.Errorf("sick samples seen = %d, want 80", sick)
		}
	}
}

// killChildEnv names the database a child process of TestSQLiteKill writes to.
const killChildEnv = "VIGIL_STORE_KILL_CHILD"

const killBatch = 100

// TestSQLiteKill kills (SIGKILL) a process in the middle of writing, then
// reopens its database: it opens cleanly, passes SQLite's integrity check,
// holds every batch the child reported committed and no partial batch, and
// takes new writes.
func TestSQLiteKill(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	path := freshSQLite(t).Path
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := 0
	lines := bufio.NewScanner(out)
	for committed < 5 && lines.Scan() {
		if n, ok := strings.CutPrefix(lines.Text(), "committed "); ok {
			committed, _ = strconv.Atoi(n)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if committed < 5 {
		t.Fatalf("child reported %d batches before it ended, want 5; stderr:\n%s", committed, stderr.String())
	}

	s := open(t, Config{Path: path})
	var check string
	if err := s.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after kill = %q, %v; want ok", check, err)
	}
	buckets, err := s.HourBuckets(ctx, SeriesKey{Service: "kill"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var samples int64
	for _, b := range buckets {
		samples += b.Checks()
	}
	if samples%killBatch != 0 || samples < int64(committed*killBatch) {
		t.Errorf("after kill: %d samples, want a whole number of %d-sample batches, at least %d batches", samples, killBatch, committed)
	}
	if err := s.AddSamples(ctx, []Sample{{Time: at(0), Service: "kill", Node: "n", Replica: "r0"}}); err != nil {
		t.Errorf("AddSamples after kill: %v", err)
	}
}

// killChild writes batches until it is killed, reporting each commit on
// stdout. It exits by itself after a minute should the parent be gone.
func killChild(path string) {
	s, err := Open(ctx, Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 1; time.Now().Before(deadline); i++ {
		batch := make([]Sample, killBatch)
		for r := range batch {
			batch[r] = Sample{Time: at(float64(i)), Service: "kill", Node: "n", Replica: fmt.Sprintf("r%d", r), Health: status.Healthy}
		}
		if err := s.AddSamples(ctx, batch); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("committed %d\n", i)
	}
	os.Exit(0)
}

// TestSQLiteLibcPin checks that the build uses exactly the modernc.org/libc
// version that modernc.org/sqlite's go.mod requires. modernc documents the
// pairing as fragile: another module's requirement can silently raise libc
// (goose v3.29.0 does), and a mismatched libc breaks SQLite at run time.
func TestSQLiteLibcPin(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to read the module graph")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}}@{{.Version}}", "modernc.org/sqlite", "modernc.org/libc").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	selected := strings.Fields(string(out))
	if len(selected) != 2 {
		t.Fatalf("go list -m = %q, want sqlite and libc", out)
	}
	graph, err := exec.Command("go", "mod", "graph").Output()
	if err != nil {
		t.Fatalf("go mod graph: %v", err)
	}
	required := ""
	for _, line := range strings.Split(string(graph), "\n") {
		if from, to, ok := strings.Cut(line, " "); ok && from == selected[0] && strings.HasPrefix(to, "modernc.org/libc@") {
			required = to
		}
	}
	if required == "" {
		t.Fatalf("go mod graph: %s requires no modernc.org/libc", selected[0])
	}
	if selected[1] != required {
		t.Errorf("build selects %s, but %s requires exactly %s: pin it in go.mod", selected[1], selected[0], required)
	}
}
