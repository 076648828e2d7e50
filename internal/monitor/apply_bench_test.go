package monitor

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/config"
)

// fleetConfig is n poll nodes of one replica each, in one service; the
// nodes from first on, so that two fleets with different firsts differ by
// the nodes at either end.
func fleetConfig(b *testing.B, first, n int) *config.Config {
	b.Helper()
	var sb strings.Builder
	sb.WriteString(baseConfig + "\n[[probe.service]]\nid = \"fleet\"\nlabel = \"Fleet\"\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&sb, "\n[[probe.service.node]]\nid = \"n%d\"\nlabel = \"N%d\"\nmode = \"poll\"\nreplicas = [\"http://127.0.0.1:9/%d\"]\n", i, i, i)
	}
	cfg, _, err := config.Parse("bench.cfg", []byte(sb.String()), nil)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkApply measures a reload of the monitor with 5000 poll nodes:
// every replica kept (a branding change, say), and a tenth of them
// replaced. The monitor is not running: the cost is Apply's own, which
// holds the monitor's lock for most of it.
func BenchmarkApply(b *testing.B) {
	const n = 5000
	for _, tc := range []struct {
		name  string
		shift int
	}{{"kept", 0}, {"tenth-replaced", n / 10}} {
		b.Run(tc.name, func(b *testing.B) {
			a, c := fleetConfig(b, 0, n), fleetConfig(b, tc.shift, n)
			m := New(Options{Config: a, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			cfgs := [2]*config.Config{c, a}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.Apply(cfgs[i%2])
				i++
			}
		})
	}
}
