package cluster

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TestSetViewKeepsHeartbeats: a read that changes nothing the snapshot
// shows keeps its generation (no new snapshot), yet /status/cluster serves
// the heartbeat times of that read, not of the first one.
func TestSetViewKeepsHeartbeats(t *testing.T) {
	c := &Cluster{o: Options{NodeID: "a", Local: staticSource{&status.Snapshot{}}}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	read := func(state int64, at time.Time) sharedRead {
		return sharedRead{state: state, leader: "a", members: []Member{{NodeID: "a", Label: "a", Live: true, HeartbeatAt: at}}}
	}
	c.install(read(1, t0))
	gen := c.view.gen
	c.install(read(1, t0.Add(2*time.Second)))
	if c.view.gen != gen {
		t.Errorf("generation went %d → %d for a read that changes no status", gen, c.view.gen)
	}
	if got := c.Status().Members[0].HeartbeatAt; !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("heartbeat_at served %v, want the last read's %v", got, t0.Add(2*time.Second))
	}
	c.install(sharedRead{state: 2, leader: "b", members: read(2, t0).members})
	if c.view.gen != gen+1 {
		t.Errorf("generation %d after a leader change, want %d", c.view.gen, gen+1)
	}
}
