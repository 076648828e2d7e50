// Package probe checks replicas: one file per kind (HTTP, TCP, TLS, DNS,
// ICMP, SSH, script, and the RabbitMQ queue of push nodes), all behind the
// Prober contract.
package probe

import (
	"context"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Result is the outcome of one check of one replica.
type Result struct {
	Health  status.Health // healthy, sick or dead
	Latency time.Duration // wall time of the (last) attempt, also when it failed
	// Reason says, when Health is not healthy, what a person can act on:
	// "GET http://10.0.0.3/health: status 503, want 200–399".
	Reason string
}

// A Prober runs one check of one replica. It honours ctx and never blocks
// beyond its own timeout.
type Prober interface {
	Probe(ctx context.Context) Result
}

// Func adapts a function to Prober.
type Func func(ctx context.Context) Result

// Probe calls f(ctx).
func (f Func) Probe(ctx context.Context) Result { return f(ctx) }
