package subscribe_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
	"github.com/vigil-go/vigil/internal/subscribe"
	"github.com/vigil-go/vigil/internal/testkit"
	"github.com/vigil-go/vigil/internal/testkit/mailbox"
)

// BenchmarkIncidentTo10000Subscribers sends one incident to 10,000
// confirmed subscribers through a real SMTP server on loopback, from a
// SQLite store, through the outbox: the time from the incident being
// stored to the last mail received, and the Go heap at its peak
// (sampled every 10 ms) over the store's and the mails' baseline.
// Meanwhile the monitor probes 200 HTTP replicas every second in the same
// process: the checks/s its target counts during the send, against the
// ideal 200, says whether sending slows probing.
//
//	go test ./internal/subscribe/ -run '^$' -bench IncidentTo10000 -benchtime=1x -count=3 -timeout 20m
func BenchmarkIncidentTo10000Subscribers(b *testing.B) {
	const subscribers = 10_000
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		st := storetest.Open(b, storetest.SQLite(b))
		mail := mailbox.Start(b)
		mail.CountOnly()
		clock := testkit.NewClock(t0)
		ts := httptest.NewUnstartedServer(nil) // only for a page URL
		cfg := testkit.Config(b, configText("http://"+ts.Listener.Addr().String()+"/", mail, rigOptions{}))
		ts.Close()
		for i := range subscribers {
			if _, _, err := st.AddSubscriber(ctx, store.Subscriber{Kind: store.SubscriberEmail,
				Address: fmt.Sprintf("s%05d@example.com", i), Created: t0, Confirmed: true}, 0); err != nil {
				b.Fatal(err)
			}
		}
		svc := subscribe.New(subscribe.Options{Config: cfg, Store: st, Now: clock.Now,
			Logger:        slog.New(slog.DiscardHandler),
			Delivery:      outbox.Options{Store: st, PollEvery: 50 * time.Millisecond},
			DispatchEvery: 50 * time.Millisecond})
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { svc.Run(runCtx) })
		checks := startProbing(b, runCtx, &wg, probedReplicas)
		time.Sleep(3 * time.Second) // the first probes are spread over the first interval
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		peak := base.HeapInuse
		stopSampling := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case <-tick.C:
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapInuse)
				}
			}
		})

		b.StartTimer()
		start := time.Now()
		checksBefore := checks.Load()
		clock.Advance(time.Minute)
		if _, err := st.OpenIncident(ctx, store.Incident{Title: "API errors", Nodes: []string{"web:api"}, Opened: clock.Now()}); err != nil {
			b.Fatal(err)
		}
		mail.Wait(b, "", subscribers, 15*time.Minute)
		elapsed := time.Since(start)
		checked := checks.Load() - checksBefore
		b.StopTimer()

		close(stopSampling)
		sampler.Wait()
		cancel()
		wg.Wait()
		b.ReportMetric(elapsed.Seconds(), "s/send")
		b.ReportMetric(subscribers/elapsed.Seconds(), "mails/s")
		b.ReportMetric(float64(peak-min(peak, base.HeapInuse))/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MiB")
		b.ReportMetric(float64(checked)/elapsed.Seconds(), "checks/s")
		b.ReportMetric(float64(checked)/elapsed.Seconds()/probedReplicas, "checks-of-ideal")
	}
}

// probedReplicas are probed every second while the benchmark sends.
const probedReplicas = 200

// startProbing runs the monitor on n HTTP replicas, polled every second,
// until ctx ends, and returns the count of checks their target received.
func startProbing(b *testing.B, ctx context.Context, wg *sync.WaitGroup, n int) *atomic.Int64 {
	b.Helper()
	var checks atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { checks.Add(1) }))
	b.Cleanup(target.Close)
	var nodes strings.Builder
	for i := range n {
		fmt.Fprintf(&nodes, "\n[[probe.service.node]]\nid = \"n%d\"\nlabel = \"N%d\"\nmode = \"poll\"\nreplicas = [\"%s/health\"]\n", i, i, target.URL)
	}
	cfg := testkit.Config(b, `[server]
manager_token = "m"
reporter_token = "r"

[branding]
page_url = "https://status.example.com"
company_name = "Example"
icon_color = "#000"
icon_url = "https://example.com/icon.png"
logo_color = "#000"
logo_url = "https://example.com/logo.png"
website_url = "https://example.com/"
support_url = "mailto:support@example.com"

[metrics]
poll_interval = 1
poll_retry = 0
poll_parallelism = 16

[[probe.service]]
id = "fleet"
label = "Fleet"
`+nodes.String())
	mon := monitor.New(monitor.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	wg.Go(func() { mon.Run(ctx) })
	return &checks
}
