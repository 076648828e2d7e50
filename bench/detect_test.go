package bench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkDetection flips a healthy target to 500 at a random point of its
// cadence and measures how long until Vigil says so: until the alert reaches
// a loopback webhook receiver ([notify.webhook]), and until /status/text
// stops saying "healthy". The bound is poll_interval + the retries' time +
// 1 s; Vigil waits poll_retry_wait before every attempt, the first included,
// so the retries' time is (poll_retry + 1) × poll_retry_wait.
func BenchmarkDetection(b *testing.B) {
	const (
		n           = 10
		interval    = 2 // s
		retry       = 2
		retryWaitMS = 500
		flips       = 4
	)
	bound := interval*time.Second + (retry+1)*retryWaitMS*time.Millisecond + time.Second

	var mu sync.Mutex
	var hooks []time.Time
	receiver := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		hooks = append(hooks, time.Now())
		mu.Unlock()
	}))
	defer receiver.Close()
	hookAfter := func(t time.Time) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range hooks {
			if h.After(t) {
				return h, true
			}
		}
		return time.Time{}, false
	}

	tg := newTargets(n)
	defer tg.srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = tg.url(i)
	}
	v := startVigil(b, vigilConfig{replicas: urls, interval: interval, parallelism: 16, retry: retry,
		retryWaitMS: retryWaitMS, delayDead: 2, webhook: receiver.URL + "/hook"})
	waitPage(b, v.URL, 30*time.Second)
	health := func() string {
		resp, err := http.Get(v.URL + "status/text")
		if err != nil {
			return ""
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.TrimSpace(string(body))
	}
	if _, ok := waitFor(20*time.Second, func() bool { return tg.allHit() && health() == "healthy" }); !ok {
		b.Fatal("vigil never reported every replica healthy")
	}

	var statusLat, hookLat []float64
	webhookWired := true
	for range flips {
		time.Sleep(time.Duration(rand.Int64N(int64(interval * time.Second))))
		flipped := time.Now()
		tg.fail[0].Store(true)
		seen, ok := waitFor(bound+10*time.Second, func() bool { return health() != "healthy" })
		if !ok {
			b.Fatalf("status still healthy %s after the flip", bound+10*time.Second)
		}
		statusLat = append(statusLat, seen.Sub(flipped).Seconds())
		if webhookWired {
			if _, ok := waitFor(time.Until(flipped.Add(bound+2*time.Second)), func() bool { _, ok := hookAfter(flipped); return ok }); ok {
				h, _ := hookAfter(flipped)
				hookLat = append(hookLat, h.Sub(flipped).Seconds())
			} else {
				webhookWired = false // no alert delivery: stop waiting for one
			}
		}
		tg.fail[0].Store(false)
		if _, ok := waitFor(bound+10*time.Second, func() bool { return health() == "healthy" }); !ok {
			b.Fatal("status did not recover")
		}
	}

	maxOf := func(xs []float64) float64 {
		m := 0.0
		for _, x := range xs {
			m = max(m, x)
		}
		return m
	}
	b.ReportMetric(bound.Seconds(), "bound-s")
	b.ReportMetric(median(statusLat), "status-median-s")
	b.ReportMetric(maxOf(statusLat), "status-max-s")
	b.ReportMetric(maxOf(statusLat)/bound.Seconds(), "status-bound-ratio")
	b.ReportMetric(float64(len(hookLat)), "webhooks")
	if len(hookLat) > 0 {
		b.ReportMetric(median(hookLat), "webhook-median-s")
		b.ReportMetric(maxOf(hookLat), "webhook-max-s")
		b.ReportMetric(maxOf(hookLat)/bound.Seconds(), "webhook-bound-ratio")
	}
}
