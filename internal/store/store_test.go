package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store/pgtest"
)

// freshSQLite returns the configuration of a new, empty SQLite database.
func freshSQLite(t testing.TB) Config {
	return Config{Driver: SQLite, Path: filepath.Join(t.TempDir(), "vigil.db")}
}

// freshPostgres returns the configuration of a new, empty schema in the test
// database, dropped when the test ends; see pgtest.FreshSchema.
func freshPostgres(t testing.TB) Config {
	t.Helper()
	return Config{Driver: Postgres, URL: pgtest.FreshSchema(t)}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// open opens cfg and closes the store when the test ends.
func open(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s) = %v", cfg.Driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLite(t *testing.T) { testStore(t, freshSQLite) }

func TestPostgres(t *testing.T) {
	freshPostgres(t) // fail or skip once, here, if the server is missing
	testStore(t, freshPostgres)
}

// testStore is the conformance suite every backend passes.
func testStore(t *testing.T, fresh func(testing.TB) Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, fresh func(testing.TB) Config)
	}{
		{"Migrations", testMigrations},
		{"Changes", testChanges},
		{"Samples", testSamples},
		{"Uptime", testUptime},
		{"Days", testDays},
		{"Replicas", testReplicas},
		{"Announcements", testAnnouncements},
		{"Maintenance", testMaintenance},
		{"Incidents", testIncidents},
		{"Reminders", testReminders},
		{"Outbox", testOutbox},
		{"Prune", testPrune},
		{"PruneForever", testPruneForever},
		{"Reopen", testReopen},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, fresh)
		})
	}
}

var ctx = context.Background()

func testMigrations(t *testing.T, fresh func(testing.TB) Config) {
	cfg := fresh(t)
	want := 0
	if ms, err := migrations(cfg.Driver); err != nil {
		t.Fatal(err)
	} else {
		want = len(ms)
	}
	// Open twice: the second Open finds nothing to do.
	for range 2 {
		s := open(t, cfg)
		if v, err := s.SchemaVersion(ctx); err != nil || v != want {
			t.Errorf("SchemaVersion() = %d, %v, want %d, nil", v, err, want)
		}
		s.Close()
	}
	// Several instances opening a new database at once all succeed, and
	// each migration is applied once.
	cfg2 := fresh(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := Open(ctx, cfg2)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open = %v", err)
		}
	}
	s := open(t, cfg2)
	var rows int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&rows); err != nil || rows != want {
		t.Errorf("schema_version rows = %d, %v, want %d", rows, err, want)
	}
	// A database migrated by a newer vigil is refused, not damaged.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_ms) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, cfg2); err == nil {
		s.Close()
		t.Errorf("Open(database at version 999) = nil error, want a refusal")
	} else if !regexp.MustCompile(`schema version 999, newer`).MatchString(err.Error()) {
		t.Errorf("Open(database at version 999) = %v, want it to name the version", err)
	}
}

func TestOpenInvalid(t *testing.T) {
	tests := []Config{
		{Driver: "mysql", Path: "x"},
		{Driver: SQLite},
		{Driver: SQLite, Path: filepath.Join(t.TempDir(), "a?b.db")},
		{Driver: SQLite, Path: filepath.Join(t.TempDir(), "missing-dir", "vigil.db")},
		{Driver: Postgres},
		{Driver: SQLite, Path: filepath.Join(t.TempDir(), "v.db"), AliveGap: -time.Second},
	}
	for _, cfg := range tests {
		if s, err := Open(ctx, cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) = nil error, want an error", cfg)
		}
	}
	if _, err := Open(ctx, Config{Driver: "mysql"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(driver mysql) = %v, want ErrInvalid", err)
	}
}

func TestOpenPostgresPasswordNotLeaked(t *testing.T) {
	// Nothing listens on port 1; the error must not carry the password.
	_, err := Open(ctx, Config{Driver: Postgres, URL: "postgres://vigil:s3cr3t-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"})
	if err == nil {
		t.Fatal("Open(unreachable) = nil error")
	}
	if regexp.MustCompile(`s3cr3t-pw`).MatchString(err.Error()) {
		t.Errorf("Open(unreachable) = %q, leaks the password", err)
	}
}

func testChanges(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	in := []Change{
		{Time: at(0), Level: LevelReplica, Service: "web", Node: "a", Replica: "r1", From: status.Healthy, To: status.Dead, Reason: "GET http://10.0.0.1/: timeout after 10s"},
		{Time: at(0), Level: LevelNode, Service: "web", Node: "a", From: status.Healthy, To: status.Dead},
		{Time: at(0), Level: LevelService, Service: "web", From: status.Healthy, To: status.Dead},
		{Time: at(0), Level: LevelGeneral, From: status.Healthy, To: status.Dead},
		{Time: at(5), Level: LevelNode, Service: "web", Node: "b", From: status.Healthy, To: status.Sick},
		{Time: at(10), Level: LevelNode, Service: "web", Node: "a", From: status.Dead, To: status.Healthy},
		{Time: at(10), Level: LevelNode, Service: "db", Node: "a", From: status.Healthy, To: status.Sick},
	}
	if err := s.RecordChanges(ctx, in...); err != nil {
		t.Fatalf("RecordChanges: %v", err)
	}
	if err := s.RecordChanges(ctx); err != nil {
		t.Errorf("RecordChanges() = %v, want nil", err)
	}
	got, err := s.Changes(ctx, ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("Changes() returned %d, want %d", len(got), len(in))
	}
	// Newest first; at equal times, the later insert first.
	for i, c := range got {
		want := in[len(in)-1-i]
		want.ID = c.ID
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Changes()[%d] = %+v, want %+v", i, c, want)
		}
	}
	ids := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s/%s/%s/%s@%v", c.Level, c.Service, c.Node, c.Replica, c.Time.Sub(t0)))
		}
		return out
	}
	filters := []struct {
		f    ChangeFilter
		want []string
	}{
		{ChangeFilter{Service: "web", Node: "a"}, []string{"node/web/a/@10m0s", "node/web/a/@0s", "replica/web/a/r1@0s"}},
		{ChangeFilter{Service: "web", Node: "a", Level: LevelNode}, []string{"node/web/a/@10m0s", "node/web/a/@0s"}},
		{ChangeFilter{Level: LevelGeneral}, []string{"general///@0s"}},
		{ChangeFilter{Since: at(5), Until: at(10)}, []string{"node/web/b/@5m0s"}},
		{ChangeFilter{Service: "web", Limit: 2}, []string{"node/web/a/@10m0s", "node/web/b/@5m0s"}},
		{ChangeFilter{Service: "nope"}, nil},
	}
	for _, tt := range filters {
		got, err := s.Changes(ctx, tt.f)
		if err != nil {
			t.Errorf("Changes(%+v) = %v", tt.f, err)
			continue
		}
		if g := ids(got); !reflect.DeepEqual(g, tt.want) {
			t.Errorf("Changes(%+v) = %q, want %q", tt.f, g, tt.want)
		}
	}
	if _, err := s.Changes(ctx, ChangeFilter{Node: "a"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Changes(node without service) = %v, want ErrInvalid", err)
	}

	last, err := s.LastChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantLast := []string{"general///@0s", "node/db/a/@10m0s", "service/web//@0s", "node/web/a/@10m0s", "replica/web/a/r1@0s", "node/web/b/@5m0s"}
	if g := ids(last); !reflect.DeepEqual(g, wantLast) {
		t.Errorf("LastChanges() = %q, want %q", g, wantLast)
	}

	bad := []Change{
		{Level: LevelNode, Service: "web", Node: "a"},                                    // no time
		{Time: at(0), Level: "cluster", Service: "web"},                                  // unknown level
		{Time: at(0), Level: LevelNode, Service: "web"},                                  // node missing
		{Time: at(0), Level: LevelService, Service: "web", Node: "a"},                    // too many names
		{Time: at(0), Level: LevelGeneral, Service: "web"},                               // too many names
		{Time: at(0), Level: LevelReplica, Service: "web", Node: "a"},                    // replica missing
		{Time: at(0), Level: LevelNode, Service: "web", Node: "a", To: status.Health(7)}, // bad health
	}
	for _, c := range bad {
		// One bad change spoils the batch: nothing is written.
		if err := s.RecordChanges(ctx, Change{Time: at(99), Level: LevelGeneral}, c); !errors.Is(err, ErrInvalid) {
			t.Errorf("RecordChanges(%+v) = %v, want ErrInvalid", c, err)
		}
	}
	if got, _ := s.Changes(ctx, ChangeFilter{Since: at(99)}); len(got) != 0 {
		t.Errorf("after rejected batches, Changes(since 99m) = %v, want none", got)
	}
}

func testSamples(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	msec := time.Millisecond
	batch := []Sample{
		{Time: at(0), Service: "web", Node: "a", Replica: "r1", Health: status.Healthy, Latency: 20 * msec, HasLatency: true},
		{Time: at(0.5), Service: "web", Node: "a", Replica: "r1", Health: status.Sick, Latency: 40 * msec, HasLatency: true},
		{Time: at(0.2), Service: "web", Node: "a", Replica: "r2", Health: status.Dead}, // no latency
		{Time: at(1), Service: "web", Node: "a", Replica: "r1", Health: status.Healthy, Latency: 0, HasLatency: true},
		{Time: at(61), Service: "web", Node: "b", Replica: "r1", Health: status.Healthy, Latency: 5 * msec, HasLatency: true},
	}
	if err := s.AddSamples(ctx, batch); err != nil {
		t.Fatalf("AddSamples: %v", err)
	}
	// A second batch merges into the same buckets (the upsert path).
	if err := s.AddSamples(ctx, []Sample{
		{Time: at(0.9), Service: "web", Node: "a", Replica: "r1", Health: status.Dead, Latency: 100 * msec, HasLatency: true},
		{Time: at(0.7), Service: "web", Node: "a", Replica: "r2", Health: status.Healthy},
	}); err != nil {
		t.Fatalf("AddSamples (merge): %v", err)
	}
	if err := s.AddSamples(ctx, nil); err != nil {
		t.Errorf("AddSamples(nil) = %v, want nil", err)
	}

	tests := []struct {
		name  string
		hour  bool
		key   SeriesKey
		since float64
		until float64
		want  []Bucket
	}{
		{"replica minutes", false, SeriesKey{"web", "a", "r1"}, 0, 120, []Bucket{
			{Start: at(0), Healthy: 1, Sick: 1, Dead: 1, LatencyCount: 3, LatencyMin: 20 * msec, LatencyMax: 100 * msec, LatencySum: 160 * msec},
			{Start: at(1), Healthy: 1, LatencyCount: 1, LatencyMin: 0, LatencyMax: 0, LatencySum: 0},
		}},
		{"replica without latency", false, SeriesKey{"web", "a", "r2"}, 0, 120, []Bucket{
			{Start: at(0), Healthy: 1, Dead: 1},
		}},
		{"node merges replicas", false, SeriesKey{"web", "a", ""}, 0, 120, []Bucket{
			{Start: at(0), Healthy: 2, Sick: 1, Dead: 2, LatencyCount: 3, LatencyMin: 20 * msec, LatencyMax: 100 * msec, LatencySum: 160 * msec},
			{Start: at(1), Healthy: 1, LatencyCount: 1},
		}},
		{"service merges nodes", true, SeriesKey{"web", "", ""}, 0, 120, []Bucket{
			{Start: at(0), Healthy: 3, Sick: 1, Dead: 2, LatencyCount: 4, LatencyMin: 0, LatencyMax: 100 * msec, LatencySum: 160 * msec},
			{Start: at(60), Healthy: 1, LatencyCount: 1, LatencyMin: 5 * msec, LatencyMax: 5 * msec, LatencySum: 5 * msec},
		}},
		{"until is exclusive", false, SeriesKey{"web", "a", "r1"}, 0, 1, []Bucket{
			{Start: at(0), Healthy: 1, Sick: 1, Dead: 1, LatencyCount: 3, LatencyMin: 20 * msec, LatencyMax: 100 * msec, LatencySum: 160 * msec},
		}},
		{"since is inclusive", true, SeriesKey{"web", "b", ""}, 60, 0, []Bucket{
			{Start: at(60), Healthy: 1, LatencyCount: 1, LatencyMin: 5 * msec, LatencyMax: 5 * msec, LatencySum: 5 * msec},
		}},
		{"unknown series", false, SeriesKey{"nope", "", ""}, 0, 120, nil},
	}
	for _, tt := range tests {
		get := s.MinuteBuckets
		if tt.hour {
			get = s.HourBuckets
		}
		until := time.Time{}
		if tt.until != 0 {
			until = at(tt.until)
		}
		got, err := get(ctx, tt.key, at(tt.since), until)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: buckets(%+v) =\n%+v\nwant\n%+v", tt.name, tt.key, got, tt.want)
		}
	}
	if got := (Bucket{LatencyCount: 3, LatencySum: 160 * msec}).LatencyAvg(); got != 53333333 {
		t.Errorf("LatencyAvg() = %v, want 53.333333ms", got)
	}

	for _, key := range []SeriesKey{{}, {Service: "web", Replica: "r1"}} {
		if _, err := s.MinuteBuckets(ctx, key, at(0), at(1)); !errors.Is(err, ErrInvalid) {
			t.Errorf("MinuteBuckets(%+v) = %v, want ErrInvalid", key, err)
		}
	}
	for _, bad := range []Sample{
		{Service: "web", Node: "a", Replica: "r1"},
		{Time: at(0), Node: "a", Replica: "r1"},
		{Time: at(0), Service: "web", Replica: "r1"},
		{Time: at(0), Service: "web", Node: "a"},
		{Time: at(0), Service: "web", Node: "a", Replica: "r1", Health: status.Health(3)},
		{Time: at(0), Service: "web", Node: "a", Replica: "r1", Latency: -1, HasLatency: true},
	} {
		good := Sample{Time: at(500), Service: "web", Node: "a", Replica: "r1"}
		if err := s.AddSamples(ctx, []Sample{good, bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddSamples(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if got, _ := s.MinuteBuckets(ctx, SeriesKey{"web", "a", "r1"}, at(500), time.Time{}); len(got) != 0 {
		t.Errorf("after rejected batches, buckets at 500m = %+v, want none", got)
	}

	// A batch larger than one INSERT.
	var big []Sample
	for i := range 2*upsertChunk + 7 {
		big = append(big, Sample{Time: at(1000), Service: "big", Node: fmt.Sprintf("n%d", i%7), Replica: fmt.Sprintf("r%d", i),
			Health: status.Health(i % 3), Latency: time.Duration(i) * msec, HasLatency: true})
	}
	if err := s.AddSamples(ctx, big); err != nil {
		t.Fatalf("AddSamples(%d samples): %v", len(big), err)
	}
	got, err := s.MinuteBuckets(ctx, SeriesKey{Service: "big"}, at(1000), at(1002))
	if err != nil {
		t.Fatal(err)
	}
	n := int64(2*upsertChunk + 7)
	want := []Bucket{{Start: at(1000), Healthy: (n + 2) / 3, Sick: (n + 1) / 3, Dead: n / 3, LatencyCount: n,
		LatencyMin: 0, LatencyMax: time.Duration(n-1) * msec, LatencySum: time.Duration(n*(n-1)/2) * msec}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("big batch = %+v, want %+v", got, want)
	}
}

// markAlive records heartbeats of instance every step minutes over [from, to] minutes.
func markAlive(t *testing.T, s *Store, instance string, from, to, step float64) {
	t.Helper()
	for m := from; m <= to; m += step {
		if err := s.MarkAlive(ctx, instance, at(m)); err != nil {
			t.Fatalf("MarkAlive(%s, %vm): %v", instance, m, err)
		}
	}
}

func testUptime(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	// vigil runs 0–60 min, is stopped 60–90, runs 90–120.
	markAlive(t, s, "vigil-1", 0, 60, 0.5)
	markAlive(t, s, "vigil-1", 90, 120, 0.5)
	// A second instance's heartbeats count too.
	markAlive(t, s, "vigil-2", 130, 140, 0.5)
	node := func(m float64, from, to status.Health) Change {
		return Change{Time: at(m), Level: LevelNode, Service: "web", Node: "a", From: from, To: to}
	}
	const H, D = status.Healthy, status.Dead
	if err := s.RecordChanges(ctx, node(0, H, H), node(10, H, D), node(20, D, H), node(100, H, D), node(110, D, H),
		// Another node and the service level must not leak into web/a.
		Change{Time: at(0), Level: LevelNode, Service: "web", Node: "b", From: H, To: D},
		Change{Time: at(0), Level: LevelService, Service: "web", From: H, To: D},
	); err != nil {
		t.Fatal(err)
	}
	windows := []Window{
		{Start: at(15), End: at(25), Targets: []string{"web:a"}},
		{Start: at(0), End: at(200), Targets: []string{"db"}}, // another service: ignored
	}
	tests := []struct {
		name          string
		service, node string
		since, until  float64
		want          UptimeReport
	}{
		{"node over two hours", "web", "a", 0, 120, UptimeReport{
			Up: mins(65), Down: mins(15), NoData: mins(30), Maintenance: mins(10), Ratio: 65.0 / 80, HasData: true}},
		{"window entirely without data", "web", "a", 65, 85, UptimeReport{NoData: mins(20)}},
		{"second instance", "web", "a", 125, 145, UptimeReport{Up: mins(10), NoData: mins(10), Ratio: 1, HasData: true}},
		{"service level", "web", "", 0, 60, UptimeReport{Down: mins(60), HasData: true}},
		{"nothing recorded for the page", "", "", 0, 60, UptimeReport{NoData: mins(60)}},
	}
	for _, tt := range tests {
		got, err := s.Uptime(ctx, tt.service, tt.node, at(tt.since), at(tt.until), windows)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: Uptime(%s/%s, %v–%vm) = %+v, want %+v", tt.name, tt.service, tt.node, tt.since, tt.until, got, tt.want)
		}
	}
	if _, err := s.Uptime(ctx, "", "a", at(0), at(1), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Uptime(node without service) = %v, want ErrInvalid", err)
	}

	// MarkAlive at or before the end of the interval changes nothing, and an
	// unnamed instance is refused.
	if err := s.MarkAlive(ctx, "vigil-1", at(100)); err != nil {
		t.Errorf("MarkAlive(in the past) = %v", err)
	}
	if err := s.MarkAlive(ctx, "", at(100)); !errors.Is(err, ErrInvalid) {
		t.Errorf("MarkAlive(\"\") = %v, want ErrInvalid", err)
	}
	spans, err := s.running(ctx, at(-1000), at(1000))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	if want := []span{sp(0, 60), sp(90, 120), sp(130, 140)}; !reflect.DeepEqual(spans, want) {
		t.Errorf("running intervals = %v, want %v", spans, want)
	}
}

func testDays(t *testing.T, fresh func(testing.TB) Config) {
	// Hourly heartbeats keep the test short; a two-hour gap still tells a
	// stopped vigil from a running one.
	cfg := fresh(t)
	cfg.AliveGap = 2 * time.Hour
	s := open(t, cfg)
	const day = 24 * 60
	const H, S, D = status.Healthy, status.Sick, status.Dead
	// Day 0: running all day, healthy, one sick sample.
	// Day 1: running all day, dead for the last 6 hours of it.
	// Day 2: vigil not running at all.
	// Day 3: running the first 12 hours; still dead from day 1 until 6:00.
	markAlive(t, s, "v", 0, 2*day, 60)
	markAlive(t, s, "v", 3*day, 3*day+12*60, 60)
	node := func(m float64, to status.Health) Change {
		return Change{Time: at(m), Level: LevelNode, Service: "web", Node: "a", From: H, To: to}
	}
	if err := s.RecordChanges(ctx, node(0, H), node(day+18*60, D), node(3*day+6*60, H)); err != nil {
		t.Fatal(err)
	}
	var samples []Sample
	for m := 0.0; m < 4*day; m += 60 {
		if m >= 2*day && m < 3*day || m >= 3*day+12*60 {
			continue // vigil not running
		}
		h := H
		if m >= day+18*60 && m < 3*day+6*60 {
			h = D
		}
		if m == 600 {
			h = S
		}
		for _, r := range []string{"r1", "r2"} {
			samples = append(samples, Sample{Time: at(m), Service: "web", Node: "a", Replica: r, Health: h})
		}
	}
	if err := s.AddSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	maint := []Window{{Start: at(3*day + 9*60), End: at(3*day + 10*60), Targets: []string{"web"}}}
	// The range starts at noon of day 0 and ends at noon of day 3.
	days, err := s.Days(ctx, "web", "a", at(12*60), at(3*day+12*60), maint)
	if err != nil {
		t.Fatal(err)
	}
	hours := func(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
	want := []Day{
		{Start: at(0), Checks: 48, Healthy: 46, Sick: 2, Worst: S,
			Uptime: UptimeReport{Up: hours(12), Ratio: 1, HasData: true}},
		{Start: at(day), Checks: 48, Healthy: 36, Dead: 12, Worst: D,
			Uptime: UptimeReport{Up: hours(18), Down: hours(6), Ratio: 0.75, HasData: true}},
		{Start: at(2 * day), Worst: H,
			Uptime: UptimeReport{NoData: hours(24)}},
		{Start: at(3 * day), Checks: 24, Healthy: 12, Dead: 12, Worst: D,
			Uptime: UptimeReport{Up: hours(5), Down: hours(6), Maintenance: hours(1), Ratio: 5.0 / 11, HasData: true}},
	}
	if !reflect.DeepEqual(days, want) {
		t.Errorf("Days =\n%+v\nwant\n%+v", days, want)
	}
	if days[2].HasData() || !days[3].HasData() {
		t.Errorf("HasData of a day without data = %v, of a day with data = %v; want false, true", days[2].HasData(), days[3].HasData())
	}
	if _, err := s.Days(ctx, "", "", at(0), at(1), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Days(no service) = %v, want ErrInvalid", err)
	}
}

func testReplicas(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	push := PushReplica{Service: "api", Node: "push", Replica: "host-1", Mode: status.Push, Interval: 30 * time.Second,
		LastReport: at(1), Load: &status.Load{CPU: 0.25, RAM: 0.5}, Health: status.Healthy}
	local := PushReplica{Service: "api", Node: "local", Replica: "host-2", Mode: status.Local, Interval: time.Minute,
		LastReport: at(2), Health: status.Sick, Reason: "disk 91% full"}
	for _, r := range []PushReplica{push, local} {
		if err := s.SaveReplica(ctx, r); err != nil {
			t.Fatalf("SaveReplica(%+v): %v", r, err)
		}
	}
	// A new report replaces the old one.
	push.LastReport, push.Load, push.Health = at(3), &status.Load{CPU: 1.5, RAM: 0.9}, status.Dead
	if err := s.SaveReplica(ctx, push); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadReplicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []PushReplica{local, push}; !reflect.DeepEqual(got, want) {
		t.Errorf("LoadReplicas() = %+v, want %+v", got, want)
	}
	if err := s.DeleteReplica(ctx, "api", "local", "host-2"); err != nil {
		t.Errorf("DeleteReplica = %v", err)
	}
	if err := s.DeleteReplica(ctx, "api", "local", "host-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteReplica(deleted) = %v, want ErrNotFound", err)
	}
	if got, _ := s.LoadReplicas(ctx); len(got) != 1 || got[0].Replica != "host-1" {
		t.Errorf("LoadReplicas() after delete = %+v, want host-1 only", got)
	}
	if err := s.SaveReplica(ctx, PushReplica{Service: "api", Node: "push", LastReport: at(0)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SaveReplica(no replica) = %v, want ErrInvalid", err)
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func testAnnouncements(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	if got, err := s.Announcements(ctx); err != nil || len(got) != 0 {
		t.Errorf("Announcements() on a new store = %v, %v, want none", got, err)
	}
	var added []Announcement
	for i, title := range []string{"Upgrade", "Outage", " "} {
		a, err := s.AddAnnouncement(ctx, title, "text "+title, at(float64(10-i))) // times out of order
		if err != nil {
			t.Fatalf("AddAnnouncement(%q): %v", title, err)
		}
		if !uuidPattern.MatchString(a.ID) {
			t.Errorf("AddAnnouncement id = %q, want a lower-case UUID v4", a.ID)
		}
		added = append(added, a)
	}
	got, err := s.Announcements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, added) {
		t.Errorf("Announcements() = %+v, want insertion order %+v", got, added)
	}
	if err := s.UpdateAnnouncement(ctx, added[0].ID, "Upgrade done", "all good", at(20)); err != nil {
		t.Errorf("UpdateAnnouncement = %v", err)
	}
	if err := s.DeleteAnnouncement(ctx, added[1].ID); err != nil {
		t.Errorf("DeleteAnnouncement = %v", err)
	}
	got, _ = s.Announcements(ctx)
	want := []Announcement{{ID: added[0].ID, Title: "Upgrade done", Text: "all good", Time: at(10), Updated: at(20)}, added[2]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Announcements() after edit and delete = %+v, want %+v", got, want)
	}
	missing := "00000000-0000-4000-8000-000000000000"
	if err := s.DeleteAnnouncement(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteAnnouncement(missing) = %v, want ErrNotFound", err)
	}
	if err := s.UpdateAnnouncement(ctx, missing, "t", "x", at(0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateAnnouncement(missing) = %v, want ErrNotFound", err)
	}
	for _, tt := range [][2]string{{"", "text"}, {"title", ""}} {
		if _, err := s.AddAnnouncement(ctx, tt[0], tt[1], at(0)); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddAnnouncement(%q, %q) = %v, want ErrInvalid", tt[0], tt[1], err)
		}
		if err := s.UpdateAnnouncement(ctx, added[0].ID, tt[0], tt[1], at(0)); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateAnnouncement(%q, %q) = %v, want ErrInvalid", tt[0], tt[1], err)
		}
	}
}

func testMaintenance(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	past, err := s.AddMaintenance(ctx, Window{Start: at(0), End: at(60), Targets: []string{"web"}, Message: "done"})
	if err != nil {
		t.Fatal(err)
	}
	active, err := s.AddMaintenance(ctx, Window{Start: at(90), End: at(150), Targets: []string{"web:a", "db"}, Message: "db upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	upcoming, err := s.AddMaintenance(ctx, Window{Start: at(200), End: at(260), Message: "everything"})
	if err != nil {
		t.Fatal(err)
	}
	if past.ID == 0 || active.ID == past.ID || upcoming.ID == active.ID {
		t.Errorf("window ids %d, %d, %d; want distinct non-zero", past.ID, active.ID, upcoming.ID)
	}
	now := at(100)
	got, err := s.Maintenance(ctx, now, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Window{active, upcoming}; !reflect.DeepEqual(got, want) {
		t.Errorf("Maintenance(now, ∞) = %+v, want %+v", got, want)
	}
	// Range ends are exclusive: a window ending at since is left out.
	if got, _ := s.Maintenance(ctx, at(60), at(90)); len(got) != 0 {
		t.Errorf("Maintenance(60, 90) = %+v, want none", got)
	}
	if got, _ := s.Maintenance(ctx, at(59), at(91)); len(got) != 2 {
		t.Errorf("Maintenance(59, 91) = %+v, want past and active", got)
	}
	active.End, active.Targets, active.Message = at(180), []string{"db"}, "takes longer"
	if err := s.UpdateMaintenance(ctx, active); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMaintenance(ctx, upcoming.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Maintenance(ctx, now, time.Time{})
	if want := []Window{active}; !reflect.DeepEqual(got, want) {
		t.Errorf("Maintenance after update and delete = %+v, want %+v", got, want)
	}
	if err := s.DeleteMaintenance(ctx, upcoming.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteMaintenance(deleted) = %v, want ErrNotFound", err)
	}
	if err := s.UpdateMaintenance(ctx, Window{ID: upcoming.ID, Start: at(0), End: at(1)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateMaintenance(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := s.AddMaintenance(ctx, Window{Start: at(10), End: at(5)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddMaintenance(end before start) = %v, want ErrInvalid", err)
	}
	if err := s.UpdateMaintenance(ctx, Window{ID: active.ID, Start: at(0), End: at(1), Targets: []string{"a:b:c"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("UpdateMaintenance(bad target) = %v, want ErrInvalid", err)
	}
}

func testIncidents(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	auto, err := s.OpenIncident(ctx, Incident{Title: "web:a is dead", Auto: true, Nodes: []string{"web:a"}, Opened: at(10)})
	if err != nil {
		t.Fatal(err)
	}
	manual, err := s.OpenIncident(ctx, Incident{Title: "Slow checkout", Nodes: []string{"web:a", "web:b"}, Opened: at(20),
		Updates: []IncidentUpdate{{Time: at(20), Status: "investigating", Text: "Looking into it."}}})
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.OpenIncident(ctx, Incident{Title: "Past outage", Opened: at(-100), Resolved: at(-50)})
	if err != nil {
		t.Fatal(err)
	}
	if auto.ID == 0 || manual.Updates[0].ID == 0 {
		t.Errorf("OpenIncident ids = %d, update %d; want non-zero", auto.ID, manual.Updates[0].ID)
	}
	u, err := s.AddIncidentUpdate(ctx, auto.ID, IncidentUpdate{Time: at(15), Status: "identified", Text: "Disk full."})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveIncident(ctx, auto.ID, at(40)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Incident(ctx, auto.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := Incident{ID: auto.ID, Title: "web:a is dead", Auto: true, Nodes: []string{"web:a"}, Opened: at(10), Resolved: at(40),
		Updates: []IncidentUpdate{u}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Incident(%d) = %+v, want %+v", auto.ID, got, want)
	}
	if d := got.Duration(at(1000)); d != 30*time.Minute || got.IsOpen() {
		t.Errorf("resolved incident: Duration = %v, IsOpen = %v; want 30m, false", d, got.IsOpen())
	}
	if d := manual.Duration(at(50)); d != 30*time.Minute || !manual.IsOpen() {
		t.Errorf("open incident: Duration(at 50m) = %v, IsOpen = %v; want 30m, true", d, manual.IsOpen())
	}

	titles := func(list []Incident) []string {
		var out []string
		for _, in := range list {
			out = append(out, in.Title)
		}
		return out
	}
	filters := []struct {
		f    IncidentFilter
		want []string
	}{
		{IncidentFilter{}, []string{"Slow checkout", "web:a is dead", "Past outage"}},
		{IncidentFilter{OpenOnly: true}, []string{"Slow checkout"}},
		{IncidentFilter{Limit: 1}, []string{"Slow checkout"}},
		{IncidentFilter{Since: at(40)}, []string{"Slow checkout", "web:a is dead"}}, // resolved at 40: overlaps
		{IncidentFilter{Since: at(41)}, []string{"Slow checkout"}},
		{IncidentFilter{Since: at(-60), Until: at(10)}, []string{"Past outage"}}, // opened at 10: excluded
		{IncidentFilter{Until: at(-100)}, nil},
	}
	for _, tt := range filters {
		got, err := s.Incidents(ctx, tt.f)
		if err != nil {
			t.Errorf("Incidents(%+v) = %v", tt.f, err)
			continue
		}
		if g := titles(got); !reflect.DeepEqual(g, tt.want) {
			t.Errorf("Incidents(%+v) = %q, want %q", tt.f, g, tt.want)
		}
	}
	list, _ := s.Incidents(ctx, IncidentFilter{})
	if len(list) != 3 || !reflect.DeepEqual(list[0], manual) || !reflect.DeepEqual(list[1], want) || !reflect.DeepEqual(list[2], old) {
		t.Errorf("Incidents() = %+v, want every incident with its updates", list)
	}

	if err := s.ResolveIncident(ctx, auto.ID, at(50)); !errors.Is(err, ErrConflict) {
		t.Errorf("ResolveIncident(resolved) = %v, want ErrConflict", err)
	}
	if err := s.ResolveIncident(ctx, manual.ID, at(19)); !errors.Is(err, ErrInvalid) {
		t.Errorf("ResolveIncident(before it opened) = %v, want ErrInvalid", err)
	}
	if err := s.ResolveIncident(ctx, 9999, at(50)); !errors.Is(err, ErrNotFound) {
		t.Errorf("ResolveIncident(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.AddIncidentUpdate(ctx, 9999, IncidentUpdate{Time: at(1)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddIncidentUpdate(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Incident(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Incident(missing) = %v, want ErrNotFound", err)
	}
	for _, bad := range []Incident{{Opened: at(0)}, {Title: "x"}, {Title: "x", Opened: at(10), Resolved: at(5)}} {
		if _, err := s.OpenIncident(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenIncident(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testReminders(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	if _, ok, err := s.Reminder(ctx, ""); ok || err != nil {
		t.Errorf("Reminder(\"\") on a new store = found %v, %v; want not found", ok, err)
	}
	st := ReminderState{LastNotified: at(5), Backoff: 2, Escalation: 1, IgnoreUntil: at(65),
		LastStatus: status.Dead, LastDead: []string{"web:a:r1", "web:a:r2"}, Outage: "1764320308000"}
	if err := s.PutReminder(ctx, "", st); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReminder(ctx, "web:a", ReminderState{Backoff: 1, LastStatus: status.Healthy}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Reminder(ctx, "")
	if err != nil || !ok || !reflect.DeepEqual(got, st) {
		t.Errorf("Reminder(\"\") = %+v, %v, %v; want %+v", got, ok, err, st)
	}
	// Recovery: counters reset, ignore deadline cleared, nothing dead.
	st = ReminderState{LastNotified: at(30), Backoff: 1, LastStatus: status.Healthy}
	if err := s.PutReminder(ctx, "", st); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Reminder(ctx, ""); !reflect.DeepEqual(got, st) {
		t.Errorf("Reminder(\"\") after recovery = %+v, want %+v", got, st)
	}
	if got, ok, _ := s.Reminder(ctx, "web:a"); !ok || got.Backoff != 1 {
		t.Errorf("Reminder(\"web:a\") = %+v, %v; want its own state", got, ok)
	}
	if err := s.PutReminder(ctx, "", ReminderState{LastStatus: status.Health(9)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutReminder(bad health) = %v, want ErrInvalid", err)
	}
}

func testOutbox(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	entry := func(id, channel, target string, created float64) OutboxEntry {
		return OutboxEntry{ID: id, Channel: channel, Target: target, Payload: []byte(`{"id":"` + id + `"}`), CreatedAt: at(created)}
	}
	n, err := s.Enqueue(ctx, []OutboxEntry{
		entry("t1-alice", "twilio", "+100", 0),
		entry("t1-bob", "twilio", "+200", 0),
		entry("s1", "slack", "", 0),
		entry("t2-alice", "twilio", "+100", 1),
		entry("t2-bob", "twilio", "+200", 1),
		entry("s2", "slack", "", 1),
	})
	if err != nil || n != 6 {
		t.Fatalf("Enqueue = %d, %v; want 6, nil", n, err)
	}
	// The same keys again (a restart re-enqueueing, or a second instance)
	// add nothing, even mixed with a new one and even within one call.
	n, err = s.Enqueue(ctx, []OutboxEntry{entry("s1", "slack", "", 5), entry("s3", "slack", "", 2), entry("s3", "slack", "", 2)})
	if err != nil || n != 1 {
		t.Fatalf("Enqueue(known keys) = %d, %v; want 1, nil", n, err)
	}
	ids := func(es []OutboxEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	due := func(channel string, now float64, limit int) []string {
		t.Helper()
		es, err := s.Due(ctx, channel, at(now), limit)
		if err != nil {
			t.Fatalf("Due(%s): %v", channel, err)
		}
		return ids(es)
	}
	// One entry per target, oldest first.
	if got, want := due("twilio", 1, 0), []string{"t1-alice", "t1-bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(twilio) = %q, want %q", got, want)
	}
	if got, want := due("slack", 1, 0), []string{"s1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(slack) = %q, want %q", got, want)
	}
	if got, want := due("twilio", 1, 1), []string{"t1-alice"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(twilio, limit 1) = %q, want %q", got, want)
	}
	// Alice's number fails: retry in 10 minutes. Bob's next message must
	// not wait for hers, and hers must not be overtaken.
	if err := s.MarkFailed(ctx, "t1-alice", "twilio: status 500", at(11)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "t1-bob", at(1)); err != nil {
		t.Fatal(err)
	}
	if got, want := due("twilio", 2, 0), []string{"t2-bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(twilio) while alice backs off = %q, want %q", got, want)
	}
	// Every undelivered entry counts: the one backing off, the one queued
	// behind it, and the one due; not the delivered one.
	if n, err := s.PendingCount(ctx, "twilio"); err != nil || n != 3 {
		t.Errorf("PendingCount(twilio) = %d, %v; want 3", n, err)
	}
	if got, want := due("twilio", 11, 0), []string{"t1-alice", "t2-bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(twilio) after the back-off = %q, want %q", got, want)
	}
	e, err := s.OutboxEntry(ctx, "t1-alice")
	if err != nil {
		t.Fatal(err)
	}
	want := entry("t1-alice", "twilio", "+100", 0)
	want.Seq, want.NextAttempt, want.Attempts, want.LastError, want.State = e.Seq, at(11), 1, "twilio: status 500", Pending
	if !reflect.DeepEqual(e, want) {
		t.Errorf("OutboxEntry(t1-alice) = %+v, want %+v", e, want)
	}
	// Delivered entries are never due again; marking twice keeps the first time.
	if err := s.MarkDelivered(ctx, "t1-alice", at(12)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "t1-alice", at(13)); err != nil {
		t.Errorf("MarkDelivered(delivered) = %v, want nil", err)
	}
	if e, _ := s.OutboxEntry(ctx, "t1-alice"); e.State != Delivered || !e.Done.Equal(at(12)) {
		t.Errorf("delivered entry: state %q done %v, want delivered at 12m", e.State, e.Done)
	}
	if err := s.MarkFailed(ctx, "t1-alice", "late", at(20)); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkFailed(delivered) = %v, want ErrNotFound", err)
	}
	if err := s.MarkDelivered(ctx, "nope", at(1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDelivered(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.OutboxEntry(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("OutboxEntry(missing) = %v, want ErrNotFound", err)
	}
	if got, want := due("twilio", 20, 0), []string{"t2-alice", "t2-bob"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(twilio) later = %q, want %q", got, want)
	}
	// Give up on what was created before minute 1: only s1 is still pending.
	gone, err := s.GiveUp(ctx, at(1), at(30))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(gone), []string{"s1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("GiveUp(before 1m) = %q, want %q", got, want)
	}
	if gone[0].State != GivenUp || !gone[0].Done.Equal(at(30)) {
		t.Errorf("given-up entry = %+v, want state given_up, done at 30m", gone[0])
	}
	if got, want := due("slack", 30, 0), []string{"s2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Due(slack) after giving up s1 = %q, want %q", got, want)
	}
	// A given-up entry that was delivered after all is recorded as delivered.
	if err := s.MarkDelivered(ctx, "s1", at(31)); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.OutboxEntry(ctx, "s1"); e.State != Delivered {
		t.Errorf("given up then delivered: state %q, want delivered", e.State)
	}
	// A future NextAttempt defers the first attempt.
	later := entry("s4", "slack", "x", 40)
	later.NextAttempt = at(45)
	if _, err := s.Enqueue(ctx, []OutboxEntry{later}); err != nil {
		t.Fatal(err)
	}
	if got := due("slack", 44, 0); slices.Contains(got, "s4") {
		t.Errorf("Due(slack, 44m) = %q, want s4 not yet due", got)
	}
	if got := due("slack", 45, 0); !slices.Contains(got, "s4") {
		t.Errorf("Due(slack, 45m) = %q, want s4 due", got)
	}
	// Abandon gives up one entry at once and lets the next one of its
	// target through; it only applies to pending entries.
	if err := s.Abandon(ctx, "s2", "slack: status 404 Not Found", at(46)); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.OutboxEntry(ctx, "s2"); e.State != GivenUp || e.LastError != "slack: status 404 Not Found" || e.Attempts != 1 || !e.Done.Equal(at(46)) {
		t.Errorf("abandoned entry = %+v, want given up at 46m after 1 attempt, with its error", e)
	}
	if got := due("slack", 46, 0); slices.Contains(got, "s2") {
		t.Errorf("Due(slack) after Abandon(s2) = %q, want s2 gone", got)
	}
	if err := s.Abandon(ctx, "s2", "again", at(47)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Abandon(given up) = %v, want ErrNotFound", err)
	}
	for _, bad := range []OutboxEntry{{Channel: "x", CreatedAt: at(0)}, {ID: "x", CreatedAt: at(0)}, {ID: "x", Channel: "x"}} {
		if _, err := s.Enqueue(ctx, []OutboxEntry{bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Enqueue(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testPrune(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	now := at(200 * 24 * 60) // 200 days after t0, on a whole hour
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const day = 24 * time.Hour
	const H, D = status.Healthy, status.Dead
	sample := func(tm time.Time, replica string) Sample {
		return Sample{Time: tm, Service: "web", Node: "a", Replica: replica, Health: H}
	}
	// Buckets exactly at the cutoff stay; one minute (hour) older go.
	if err := s.AddSamples(ctx, []Sample{
		sample(ago(DefaultMinutes), "m-keep"), sample(ago(DefaultMinutes+time.Minute), "m-drop"),
		sample(ago(DefaultHours), "h-keep"), sample(ago(DefaultHours+time.Hour), "h-drop"),
		sample(ago(300*day), "ancient"),
	}); err != nil {
		t.Fatal(err)
	}
	node := func(n string, tm time.Time, to status.Health) Change {
		return Change{Time: tm, Level: LevelNode, Service: "web", Node: n, From: H, To: to}
	}
	if err := s.RecordChanges(ctx,
		node("a", ago(DefaultChanges+time.Millisecond), D), // old, superseded: deleted
		node("a", ago(DefaultChanges), H),                  // at the cutoff: kept
		node("b", ago(150*day), D),                         // old, superseded: deleted
		node("b", ago(120*day), H),                         // old but the latest of b: kept
	); err != nil {
		t.Fatal(err)
	}
	for _, tm := range []time.Time{ago(DefaultChanges + time.Hour), ago(DefaultChanges - time.Hour)} {
		if err := s.MarkAlive(ctx, "v", tm); err != nil {
			t.Fatal(err)
		}
	}
	resolvedOld, _ := s.OpenIncident(ctx, Incident{Title: "old", Opened: ago(DefaultIncidents + day), Resolved: ago(DefaultIncidents + time.Millisecond),
		Updates: []IncidentUpdate{{Time: ago(DefaultIncidents + day), Text: "gone with it"}}})
	resolvedKept, _ := s.OpenIncident(ctx, Incident{Title: "kept", Opened: ago(DefaultIncidents + day), Resolved: ago(DefaultIncidents)})
	openOld, _ := s.OpenIncident(ctx, Incident{Title: "still open", Opened: ago(2 * DefaultIncidents)})
	if _, err := s.AddMaintenance(ctx, Window{Start: ago(DefaultIncidents + day), End: ago(DefaultIncidents + time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMaintenance(ctx, Window{Start: ago(DefaultIncidents + day), End: ago(DefaultIncidents)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, []OutboxEntry{
		{ID: "delivered-old", Channel: "c", CreatedAt: ago(30 * day)},
		{ID: "delivered-new", Channel: "c", CreatedAt: ago(30 * day)},
		{ID: "given-up-old", Channel: "c", CreatedAt: ago(30 * day)},
		{ID: "given-up-too", Channel: "d", CreatedAt: ago(30 * day)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "delivered-old", ago(DefaultOutbox+time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "delivered-new", ago(DefaultOutbox)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GiveUp(ctx, ago(29*day), ago(DefaultOutbox+time.Hour)); err != nil { // gives up every pending entry
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, []OutboxEntry{{ID: "pending-older", Channel: "d", CreatedAt: ago(60 * day)}}); err != nil {
		t.Fatal(err)
	}

	got, err := s.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// Minute buckets: m-drop and every older sample's minute (h-keep,
	// h-drop, ancient); hour buckets: h-drop and ancient, and their days
	// (the cutoff is a midnight).
	want := Pruned{Minutes: 4, Hours: 2, Days: 2, Changes: 2, Running: 1, Incidents: 1, Maintenance: 1, Outbox: 3}
	if got != want {
		t.Errorf("Prune = %+v, want %+v", got, want)
	}
	minutes, _ := s.MinuteBuckets(ctx, SeriesKey{Service: "web"}, time.Time{}, time.Time{})
	if len(minutes) != 1 || !minutes[0].Start.Equal(ago(DefaultMinutes)) {
		t.Errorf("minute buckets after Prune = %+v, want the one at the cutoff", minutes)
	}
	hours, _ := s.HourBuckets(ctx, SeriesKey{Service: "web"}, time.Time{}, time.Time{})
	if len(hours) != 3 || !hours[0].Start.Equal(ago(DefaultHours)) {
		t.Errorf("hour buckets after Prune = %+v, want the cutoff hour and the two recent ones", hours)
	}
	changes, _ := s.Changes(ctx, ChangeFilter{})
	if len(changes) != 2 || !changes[0].Time.Equal(ago(DefaultChanges)) || !changes[1].Time.Equal(ago(120*day)) {
		t.Errorf("changes after Prune = %+v, want a's at the cutoff and b's latest", changes)
	}
	if _, err := s.Incident(ctx, resolvedOld.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Incident(resolved before the cutoff) = %v, want ErrNotFound", err)
	}
	var updates int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM incident_updates`).Scan(&updates); err != nil || updates != 0 {
		t.Errorf("incident updates after Prune = %d, %v; want 0 (deleted with their incident)", updates, err)
	}
	for _, id := range []int64{resolvedKept.ID, openOld.ID} {
		if _, err := s.Incident(ctx, id); err != nil {
			t.Errorf("Incident(%d) after Prune = %v, want kept", id, err)
		}
	}
	for id, want := range map[string]error{"delivered-old": ErrNotFound, "given-up-old": ErrNotFound, "given-up-too": ErrNotFound,
		"delivered-new": nil, "pending-older": nil} {
		if _, err := s.OutboxEntry(ctx, id); !errors.Is(err, want) {
			t.Errorf("OutboxEntry(%s) after Prune = %v, want %v", id, err, want)
		}
	}
	// A second Prune finds nothing more.
	if got, err := s.Prune(ctx, now); err != nil || got != (Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing", got, err)
	}
}

func testPruneForever(t *testing.T, fresh func(testing.TB) Config) {
	cfg := fresh(t)
	cfg.Retention = Retention{Changes: -1, Hours: -1, Minutes: time.Hour}
	s := open(t, cfg)
	if err := s.RecordChanges(ctx,
		Change{Time: at(0), Level: LevelGeneral, To: status.Dead},
		Change{Time: at(1), Level: LevelGeneral, From: status.Dead}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSamples(ctx, []Sample{{Time: at(0), Service: "s", Node: "n", Replica: "r"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Prune(ctx, at(1000*24*60))
	if err != nil {
		t.Fatal(err)
	}
	if got.Changes != 0 || got.Minutes != 1 || got.Hours != 0 {
		t.Errorf("Prune with changes and hours kept forever, minutes for 1 h = %+v, want 0 changes, 1 minute, 0 hours", got)
	}
}

// fill writes one of everything the store keeps.
func fill(t *testing.T, s *Store) {
	t.Helper()
	if err := s.RecordChanges(ctx, Change{Time: at(1), Level: LevelNode, Service: "web", Node: "a", To: status.Dead, Reason: "down"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSamples(ctx, []Sample{{Time: at(1), Service: "web", Node: "a", Replica: "r", Health: status.Dead}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAlive(ctx, "v", at(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveReplica(ctx, PushReplica{Service: "api", Node: "push", Replica: "h", Mode: status.Push, LastReport: at(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAnnouncement(ctx, "title", "text", at(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMaintenance(ctx, Window{Start: at(1), End: at(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenIncident(ctx, Incident{Title: "web:a", Opened: at(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReminder(ctx, "", ReminderState{LastNotified: at(1), Backoff: 2, LastStatus: status.Dead}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, []OutboxEntry{{ID: "k", Channel: "slack", CreatedAt: at(1)}}); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads back everything fill wrote, as text to compare.
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	changes, err1 := s.Changes(ctx, ChangeFilter{})
	buckets, err2 := s.MinuteBuckets(ctx, SeriesKey{Service: "web"}, time.Time{}, time.Time{})
	running, err3 := s.running(ctx, at(0), at(10))
	replicas, err4 := s.LoadReplicas(ctx)
	announcements, err5 := s.Announcements(ctx)
	windows, err6 := s.Maintenance(ctx, at(0), time.Time{})
	incidents, err7 := s.Incidents(ctx, IncidentFilter{})
	reminder, _, err8 := s.Reminder(ctx, "")
	due, err9 := s.Due(ctx, "slack", at(5), 0)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return fmt.Sprintf("changes %+v\nbuckets %+v\nrunning %v\nreplicas %+v\nannouncements %+v\nwindows %+v\nincidents %+v\nreminder %+v\ndue %+v",
		changes, buckets, running, replicas, announcements, windows, incidents, reminder, due)
}

func testReopen(t *testing.T, fresh func(testing.TB) Config) {
	cfg := fresh(t)
	s := open(t, cfg)
	fill(t, s)
	before := snapshot(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, cfg)
	if after := snapshot(t, s); after != before {
		t.Errorf("after reopening:\n%s\nwant\n%s", after, before)
	}
	for _, want := range []string{"changes [{", "buckets [{", "running [{", "replicas [{", "announcements [{", "windows [{", "incidents [{", "Backoff:2", "due [{"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(before) {
			t.Errorf("snapshot lacks %q: fill wrote nothing there\n%s", want, before)
		}
	}
	// The series cache starts empty after a reopen: samples still merge
	// into the existing bucket.
	if err := s.AddSamples(ctx, []Sample{{Time: at(1), Service: "web", Node: "a", Replica: "r", Health: status.Healthy}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.MinuteBuckets(ctx, SeriesKey{"web", "a", "r"}, at(0), at(10)); len(b) != 1 || b[0].Checks() != 2 {
		t.Errorf("buckets after reopen and add = %+v, want one bucket with 2 checks", b)
	}
}

// testConcurrentWriters runs every kind of write and read at once; with
// -race it also checks the store's own synchronisation. Any "database is
// locked" (or other) error fails it.
func testConcurrentWriters(t *testing.T, fresh func(testing.TB) Config) {
	s := open(t, fresh(t))
	const workers, rounds, replicas = 4, 10, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				var batch []Sample
				for r := range replicas {
					batch = append(batch, Sample{Time: at(float64(i)), Service: "svc", Node: fmt.Sprintf("n%d", r%5),
						Replica: fmt.Sprintf("r%d", r), Health: status.Healthy, Latency: time.Millisecond, HasLatency: true})
				}
				errs <- s.AddSamples(ctx, batch)
				errs <- s.RecordChanges(ctx, Change{Time: at(float64(i)), Level: LevelReplica, Service: "svc", Node: "n0",
					Replica: fmt.Sprintf("w%d", w), To: status.Sick})
				_, err := s.Enqueue(ctx, []OutboxEntry{{ID: fmt.Sprintf("k%d", i), Channel: "c", CreatedAt: at(float64(i))}})
				errs <- err
				_, err = s.MinuteBuckets(ctx, SeriesKey{Service: "svc"}, at(0), at(100))
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent operation: %v", err)
		}
	}
	buckets, err := s.MinuteBuckets(ctx, SeriesKey{Service: "svc"}, at(0), at(100))
	if err != nil {
		t.Fatal(err)
	}
	var checks int64
	for _, b := range buckets {
		checks += b.Checks()
	}
	if want := int64(workers * rounds * replicas); checks != want || len(buckets) != rounds {
		t.Errorf("after concurrent writes: %d checks in %d buckets, want %d in %d", checks, len(buckets), want, rounds)
	}
	if changes, _ := s.Changes(ctx, ChangeFilter{}); len(changes) != workers*rounds {
		t.Errorf("after concurrent writes: %d changes, want %d", len(changes), workers*rounds)
	}
	if due, _ := s.Due(ctx, "c", at(1000), 0); len(due) != 1 {
		t.Errorf("after concurrent enqueues of %d keys: %d due for the single target, want 1 (the oldest)", rounds, len(due))
	}
	var entries int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&entries); err != nil || entries != rounds {
		t.Errorf("outbox rows after concurrent enqueues = %d, %v; want %d (one per key)", entries, err, rounds)
	}
}
