package history

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
)

// TestRecorderDropsOnlyRefusedRows: a replica id the store cannot hold (a
// NUL byte: PostgreSQL refuses it, SQLite would store it) is dropped with an
// error log, alone; the changes, replicas and samples written with it are
// stored, nothing stays pending to be retried forever, and later writes go
// through. Before, the whole batch was dropped (or, on PostgreSQL, retried
// until a restart).
func TestRecorderDropsOnlyRefusedRows(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, fresh func(testing.TB) store.Config) {
		ctx := context.Background()
		st := storetest.Open(t, fresh(t))
		r := newRecorder(t, st)
		var logs bytes.Buffer
		r.log = slog.New(slog.NewTextHandler(&logs, nil))

		bad := "bad\x00id"
		r.Observed(observation("a", t0, status.Healthy, time.Millisecond))
		r.Observed(observation(bad, t0, status.Healthy, time.Millisecond))
		r.Observed(observation("b", t0, status.Dead, time.Millisecond))
		record(t, r, tree{
			{"fleet/workers/" + bad, status.Healthy, "", t0},
			{"fleet/workers/good", status.Healthy, "", t0},
			{"web/api/a", status.Healthy, "", t0},
			{"web/api/b", status.Dead, "timeout", t0},
		}.snapshot(t0))

		got := changeStrings(t, st)
		for _, want := range []string{"replica fleet/workers/good healthy>healthy", "replica web/api/a healthy>healthy",
			"replica web/api/b dead>dead", "node web/api/ dead>dead", "general // dead>dead"} {
			if !slices.Contains(got, want) {
				t.Errorf("changes lack %q: %q", want, got)
			}
		}
		for _, c := range got {
			if strings.Contains(c, "bad") {
				t.Errorf("the refused change was stored: %q", c)
			}
		}
		list, err := st.LoadReplicas(ctx)
		if err != nil || len(list) != 1 || list[0].Replica != "good" {
			t.Errorf("stored replicas = %+v, %v; want only good", list, err)
		}
		for _, rep := range []string{"a", "b"} {
			bs, err := st.MinuteBuckets(ctx, store.SeriesKey{Service: "web", Node: "api", Replica: rep}, t0, t0.Add(time.Hour))
			if err != nil || len(bs) != 1 || bs[0].Checks() != 1 {
				t.Errorf("samples of %s = %+v, %v; want its one check", rep, bs, err)
			}
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "holds a NUL byte") {
			t.Errorf("no error log says what was dropped:\n%s", logs.String())
		}

		// The recorder is not stuck: the next change is written.
		t1 := t0.Add(time.Minute)
		record(t, r, tree{
			{"fleet/workers/good", status.Healthy, "", t0},
			{"web/api/a", status.Healthy, "", t0},
			{"web/api/b", status.Healthy, "", t1},
		}.snapshot(t1))
		if got := changeStrings(t, st); !slices.Contains(got, "replica web/api/b dead>healthy") {
			t.Errorf("the next change was not written: %q", got)
		}
	})
}

// TestRecorderDropsRowsPostgresRefuses: a value that passes the store's own
// checks but that PostgreSQL refuses (a replica id too long for its index)
// is isolated and dropped like one the store refuses: the database's error
// is a refusal of the value, not a failure to retry.
func TestRecorderDropsRowsPostgresRefuses(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, storetest.Postgres(t))
	r := newRecorder(t, st)
	raw := make([]byte, 24<<10)
	rand.Read(raw)
	huge := base64.StdEncoding.EncodeToString(raw) // incompressible: the index cannot shrink it
	for _, rep := range []string{"a", huge, "b", "c"} {
		r.Observed(observation(rep, t0, status.Healthy, time.Millisecond))
	}
	r.take()
	r.flush(ctx, true)
	if !r.pending.empty(true) {
		t.Fatalf("pending after the flush: %d samples; the refused one must be dropped, not retried", r.pending.samples.Samples())
	}
	for _, rep := range []string{"a", "b", "c"} {
		bs, err := st.MinuteBuckets(ctx, store.SeriesKey{Service: "web", Node: "api", Replica: rep}, t0, t0.Add(time.Hour))
		if err != nil || len(bs) != 1 || bs[0].Checks() != 1 {
			t.Errorf("samples of %s = %+v, %v; want its one check", rep, bs, err)
		}
	}
}

// TestRecorderKeepsUnstorableReasons: a reason holding bytes the store
// refuses (a script's output with a NUL byte and invalid UTF-8) is kept,
// with those bytes replaced, rather than losing the change, the replica or
// the incident it explains.
func TestRecorderKeepsUnstorableReasons(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, fresh func(testing.TB) store.Config) {
		ctx := context.Background()
		st := storetest.Open(t, fresh(t))
		r := newRecorder(t, st)
		record(t, r, tree{
			{"web/api/a", status.Dead, "exit status 2: \x00\xffboom", t0},
			{"fleet/workers/p", status.Sick, "queue \x00", t0},
		}.snapshot(t0))
		cs, err := st.Changes(ctx, store.ChangeFilter{Service: "web", Node: "api", Level: store.LevelReplica})
		if err != nil || len(cs) != 1 || cs[0].Reason != "exit status 2: \uFFFD\uFFFDboom" {
			t.Errorf("changes of web/api/a = %+v, %v; want one with the reason's bad bytes replaced", cs, err)
		}
		list, err := st.LoadReplicas(ctx)
		if err != nil || len(list) != 1 || list[0].Reason != "queue \uFFFD" {
			t.Errorf("replicas = %+v, %v; want p with its reason's NUL replaced", list, err)
		}
		open, err := st.Incidents(ctx, store.IncidentFilter{OpenOnly: true})
		if err != nil || len(open) != 1 || len(open[0].Updates) != 1 || open[0].Updates[0].Text != "1 of 1 replicas dead: exit status 2: \uFFFD\uFFFDboom" {
			t.Errorf("open incidents = %+v, %v; want web:api's, with the reason's bad bytes replaced", open, err)
		}
	})
}

// TestRecorderSkipsRefusedIncidents: an incident the store refuses (a
// title from a label holding a NUL byte) is not opened, with an error log,
// and does not hold back the incidents after it.
func TestRecorderSkipsRefusedIncidents(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, storetest.Postgres(t))
	r := newRecorder(t, st)
	record(t, r, tree{ // record fails the test if anything stays pending
		{"bad\x00/api/a", status.Dead, "refused", t0},
		{"web/api/a", status.Dead, "refused", t0},
	}.snapshot(t0))
	open, err := st.Incidents(ctx, store.IncidentFilter{OpenOnly: true})
	if err != nil || len(open) != 1 || open[0].Nodes[0] != "web:api" {
		t.Errorf("open incidents = %+v, %v; want web:api's", open, err)
	}
	record(t, r, tree{
		{"bad\x00/api/a", status.Healthy, "", t0.Add(time.Minute)},
		{"web/api/a", status.Healthy, "", t0.Add(time.Minute)},
	}.snapshot(t0.Add(time.Minute)))
	if open, err := st.Incidents(ctx, store.IncidentFilter{OpenOnly: true}); err != nil || len(open) != 0 {
		t.Errorf("open incidents after the recovery = %+v, %v; want none", open, err)
	}
}
