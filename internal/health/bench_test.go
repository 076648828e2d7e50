package health

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// bigTree is a snapshot of 10 000 poll replicas, the last `unchecked` of
// them never checked.
func bigTree(unchecked int) *status.Snapshot {
	const n = 10000
	node := status.Node{ID: "n", Mode: status.Poll}
	for i := range n {
		r := status.Replica{ID: fmt.Sprint(i)}
		if i < n-unchecked {
			r.Checked = time.Unix(1, 0)
		}
		node.Replicas = append(node.Replicas, r)
	}
	return &status.Snapshot{Version: 1, Services: []status.Service{{ID: "s", Nodes: []status.Node{node}}}}
}

// BenchmarkReady is the cost of one readiness probe on a page of 10 000
// replicas, the store's answer cached: once ready, and while the first
// round is still running (the same snapshot asked again).
func BenchmarkReady(b *testing.B) {
	for _, tt := range []struct {
		name      string
		unchecked int
	}{{"ready", 0}, {"first-round-running", 10}} {
		b.Run(tt.name, func(b *testing.B) {
			snap := bigTree(tt.unchecked)
			r := New(Options{Ping: func(context.Context) error { return nil }, Snapshot: func() *status.Snapshot { return snap }, CacheFor: time.Hour})
			ctx := context.Background()
			r.Ready(ctx)
			b.ReportAllocs()
			for b.Loop() {
				r.Ready(ctx)
			}
		})
	}
}
