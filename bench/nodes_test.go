package bench

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProbeManyNodes measures the shape of a fleet of independent
// endpoints: N nodes of one HTTP replica each (as peers configure them), all
// at one interval, against loopback targets. It reports the time from exec
// to the first check a target receives, the time until every replica was
// checked once, the checks per second against the ideal N/interval, Vigil's
// RSS after warm-up (peak over the window, read from /proc) and the RSS once
// the status page has been fetched.
func BenchmarkProbeManyNodes(b *testing.B) {
	for _, c := range []struct {
		nodes    int
		interval int
		window   time.Duration
	}{
		{1000, 1, 8 * time.Second},
		{5000, 1, 8 * time.Second},
		{20000, 5, 15 * time.Second},
	} {
		b.Run(fmt.Sprintf("nodes=%d/interval=%ds", c.nodes, c.interval), func(b *testing.B) {
			tg, first := newTimedTargets(c.nodes)
			defer tg.srv.Close()
			urls := make([]string, c.nodes)
			for i := range urls {
				urls[i] = tg.url(i)
			}
			interval := time.Duration(c.interval) * time.Second
			v := startVigil(b, vigilConfig{replicas: urls, interval: c.interval, parallelism: probeParallelism,
				delayDead: 10, replicasNode: 1})
			limit := 5*interval + 30*time.Second
			allAt, ok := waitFor(limit, tg.allHit)
			if !ok {
				b.Fatalf("not every replica was probed within %s", limit)
			}
			firstCheck := time.Unix(0, first.Load()).Sub(v.started)
			allProbed := allAt.Sub(v.started)
			time.Sleep(interval) // settle into the cadence
			vw := measure(v, tg, 0, c.nodes, c.window)
			afterPage := rssAfterPage(b, v)
			v.stop()

			ideal := float64(c.nodes) / interval.Seconds()
			b.ReportMetric(float64(firstCheck.Milliseconds()), "first-check-ms")
			b.ReportMetric(allProbed.Seconds()/interval.Seconds(), "all-probed-intervals")
			b.ReportMetric(vw.rate(), "checks/s")
			b.ReportMetric(vw.rate()/ideal, "ideal-ratio")
			b.ReportMetric(vw.cpuPerCheck(), "vigil-cpu-us/check")
			b.ReportMetric(float64(vw.peakRSS)/mb, "rss-MB")
			b.ReportMetric(float64(afterPage)/mb, "rss-after-page-MB")
		})
	}
}

// newTimedTargets is newTargets that also records when the first request
// of all arrived (Unix nanoseconds; 0 until then).
func newTimedTargets(n int) (*targets, *atomic.Int64) {
	t := &targets{counts: make([]atomic.Int64, n), fail: make([]atomic.Bool, n), hang: make([]atomic.Bool, n)}
	var first atomic.Int64
	t.srv = serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.Load() == 0 {
			first.CompareAndSwap(0, time.Now().UnixNano())
		}
		t.handle(w, r)
	}))
	return t, &first
}

// rssAfterPage fetches the status page once and returns Vigil's RSS after it.
func rssAfterPage(b *testing.B, p *proc) int64 {
	resp, err := http.Get(p.URL)
	if err != nil {
		b.Fatalf("get page: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("get page: %s", resp.Status)
	}
	time.Sleep(500 * time.Millisecond)
	return p.rss()
}
