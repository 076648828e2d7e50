// Package bench holds Vigil's benchmarks; see RESULTS.md for the figures
// and the commands that produced them.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/web"
)

const benchConfig = `
[server]
manager_token = "m"
reporter_token = "reporter-secret"

` + configtest.Branding + `
[[probe.service]]
id = "app"
label = "App"

[[probe.service.node]]
id = "workers"
label = "Workers"
mode = "push"
`

// clients is the number of concurrent reporters.
const clients = 64

// BenchmarkReporter measures reporter POSTs per second with 64 concurrent
// clients over loopback: through Vigil's whole reporter path (auth, JSON,
// monitor), and through a bare net/http handler that only reads the body,
// the ceiling on this machine. Compare the two posts/s figures.
func BenchmarkReporter(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
		defer srv.Close()
		post(b, srv.URL)
	})
	b.Run("vigil", func(b *testing.B) {
		cfg, _, err := config.Parse("bench.cfg", []byte(benchConfig), nil)
		if err != nil {
			b.Fatal(err)
		}
		log := slog.New(slog.DiscardHandler)
		mon := monitor.New(monitor.Options{Config: cfg, Logger: log})
		site, err := web.New(context.Background(), web.Options{Config: cfg, Source: mon, Reporter: mon, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { mon.Run(ctx) })
		srv := httptest.NewServer(site)
		defer func() {
			srv.Close()
			cancel()
			wg.Wait()
		}()
		post(b, srv.URL)
	})
}

// post sends b.N reports from 64 keep-alive clients, each its own replica.
func post(b *testing.B, base string) {
	transport := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	url := base + "/reporter/app/workers/"
	var next atomic.Int64
	var failures atomic.Int64

	b.SetParallelism((clients + 1) / max(1, runtimeProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := []byte(fmt.Sprintf(`{"replica": "10.0.0.%d", "interval": 30, "load": {"cpu": 0.42, "ram": 0.61}}`, next.Add(1)))
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth("", "reporter-secret")
			resp, err := client.Do(req)
			if err != nil {
				failures.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d reports failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}
