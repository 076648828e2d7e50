package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-go/vigil/internal/store"
)

// TestStopKeepsWhatWasAcknowledged sends SIGTERM right after a push report
// was answered 200, and right after a replica was flushed: after the stop,
// the store holds the report and no longer holds the flushed replica.
// Before the HTTP server stopped ahead of the monitor, both were lost: the
// monitor had stopped publishing while the server still answered.
func TestStopKeepsWhatWasAcknowledged(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "vigil.db")
	cfgPath := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(cfgPath, []byte(restartConfig(target.URL)+fmt.Sprintf("[storage]\npath = %q\n", db)), 0o600); err != nil {
		t.Fatal(err)
	}
	stored := func() map[string]bool {
		t.Helper()
		st, err := store.Open(context.Background(), store.Config{Path: db})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		reps, err := st.LoadReplicas(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, r := range reps {
			out[r.Replica] = true
		}
		return out
	}

	for i := range 3 { // each stop races the monitor's next publish: try a few
		v := startVigil(t, cfgPath)
		replica := fmt.Sprintf("r%d", i)
		if code := v.report(t, "fleet", "workers", `{"replica":"`+replica+`","interval":30,"load":{"cpu":0.1,"ram":0.2}}`); code != http.StatusOK {
			t.Fatalf("push report = %d, want 200", code)
		}
		v.stop(t)
		if got := stored(); !got[replica] {
			t.Fatalf("stop %d: the replica reported just before SIGTERM is not stored (stored: %v)", i, got)
		}
	}

	for i := range 3 {
		v := startVigil(t, cfgPath)
		replica := fmt.Sprintf("r%d", i)
		if code, body := v.manageAs(t, "reporter-secret", http.MethodDelete, "reporter/fleet/workers/"+replica+"/", ""); code != http.StatusOK {
			t.Fatalf("flush = %d %s, want 200", code, body)
		}
		v.stop(t)
		if got := stored(); got[replica] {
			t.Fatalf("the replica flushed just before SIGTERM is stored again (stored: %v)", got)
		}
	}
}
