package bench

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// The process benchmarks measure once per run whatever b.N is: run them
// with -benchtime=1x and repeat with -count (bench/run does both).

// window is what one measurement saw.
type window struct {
	elapsed time.Duration
	hits    int64         // requests the targets received in [from, to)
	cpu     time.Duration // CPU time the measured process used
	peakRSS int64
}

func (w window) rate() float64 { return float64(w.hits) / w.elapsed.Seconds() }

// cpuPerCheck is the CPU time per request in microseconds.
func (w window) cpuPerCheck() float64 {
	return float64(w.cpu.Microseconds()) / max(float64(w.hits), 1)
}

// measure counts the target hits on paths [from, to) and p's CPU over d.
func measure(p *proc, t *targets, from, to int, d time.Duration) window {
	rss := sampleRSS(p, 250*time.Millisecond)
	hits0, cpu0, t0 := t.total(from, to), p.cpu(), time.Now()
	time.Sleep(d)
	hits1, cpu1, t1 := t.total(from, to), p.cpu(), time.Now()
	return window{elapsed: t1.Sub(t0), hits: hits1 - hits0, cpu: cpu1 - cpu0, peakRSS: rss.Stop()}
}

// probeParallelism is poll_parallelism in the throughput runs, and the bare
// loop's concurrency: enough for 5000 checks per second on loopback (the
// targets' count shows whether it is the bound). BENCH_PARALLELISM
// overrides it: Vigil's memory grows with the probes it lets be in flight
// at once (1024 peaked at 119 MB where 64 peaks at 65 MB, same rate).
var probeParallelism = envInt("BENCH_PARALLELISM", 64)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkProbe measures probe throughput: N HTTP replicas on loopback
// targets at a fixed interval. For each N it reports the checks per second
// the targets counted against the ideal N/interval, Vigil's CPU and peak RSS,
// its startup (first page served; every replica probed once), and the CPU
// per check of a bare client loop paced at the same rate.
func BenchmarkProbe(b *testing.B) {
	for _, c := range []struct {
		n        int
		interval int
		window   time.Duration
	}{
		{100, 1, 8 * time.Second},
		{1000, 1, 8 * time.Second},
		{5000, 1, 8 * time.Second},
		{20000, 5, 15 * time.Second},
	} {
		b.Run(fmt.Sprintf("replicas=%d/interval=%ds", c.n, c.interval), func(b *testing.B) {
			tg := newTargets(c.n)
			defer tg.srv.Close()
			urls := make([]string, c.n)
			for i := range urls {
				urls[i] = tg.url(i)
			}
			interval := time.Duration(c.interval) * time.Second
			v := startVigil(b, vigilConfig{replicas: urls, interval: c.interval, parallelism: probeParallelism, delayDead: 10})
			firstPage := waitPage(b, v.URL, 30*time.Second).Sub(v.started)
			allAt, ok := waitFor(5*interval+10*time.Second, tg.allHit)
			if !ok {
				b.Fatalf("not every replica was probed within %s", 5*interval+10*time.Second)
			}
			allProbed := allAt.Sub(v.started)
			time.Sleep(interval) // settle into the cadence
			vw := measure(v, tg, 0, c.n, c.window)
			v.stop()

			ideal := float64(c.n) / interval.Seconds()
			bare := startBareLoop(b, bareSpec{base: tg.srv.URL, n: c.n, rate: ideal, conc: probeParallelism})
			time.Sleep(time.Second)
			bw := measure(bare, tg, 0, c.n, c.window)
			bare.stop()

			b.ReportMetric(vw.rate(), "checks/s")
			b.ReportMetric(vw.rate()/ideal, "ideal-ratio")
			b.ReportMetric(100*vw.cpu.Seconds()/vw.elapsed.Seconds(), "vigil-cpu-%")
			b.ReportMetric(vw.cpuPerCheck(), "vigil-cpu-us/check")
			b.ReportMetric(bw.cpuPerCheck(), "bare-cpu-us/check")
			b.ReportMetric(vw.cpuPerCheck()/bw.cpuPerCheck(), "cpu-ratio")
			b.ReportMetric(bw.rate()/ideal, "bare-ideal-ratio")
			b.ReportMetric(float64(vw.peakRSS)/mb, "rss-MB")
			b.ReportMetric(float64(firstPage.Milliseconds()), "first-page-ms")
			b.ReportMetric(allProbed.Seconds()/interval.Seconds(), "all-probed-intervals")
		})
	}
}

// BenchmarkProbeMax measures the highest probe rate: more replicas at a 1 s
// interval than this machine can check (ideal 12,000/s), so Vigil runs
// flat out, against the bare loop flat out with the same concurrency.
func BenchmarkProbeMax(b *testing.B) {
	const n = 12000
	const d = 8 * time.Second
	tg := newTargets(n)
	defer tg.srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = tg.url(i)
	}
	v := startVigil(b, vigilConfig{replicas: urls, interval: 1, parallelism: probeParallelism, delayDead: 10})
	waitPage(b, v.URL, 30*time.Second)
	time.Sleep(2 * time.Second)
	vw := measure(v, tg, 0, n, d)
	v.stop()

	bare := startBareLoop(b, bareSpec{base: tg.srv.URL, n: n, rate: 0, conc: probeParallelism})
	time.Sleep(2 * time.Second)
	bw := measure(bare, tg, 0, n, d)
	bare.stop()

	b.ReportMetric(vw.rate(), "vigil-checks/s")
	b.ReportMetric(bw.rate(), "bare-checks/s")
	b.ReportMetric(vw.rate()/bw.rate(), "max-ratio")
	b.ReportMetric(vw.cpuPerCheck(), "vigil-cpu-us/check")
	b.ReportMetric(bw.cpuPerCheck(), "bare-cpu-us/check")
	b.ReportMetric(float64(vw.peakRSS)/mb, "rss-MB")
}

// BenchmarkHungTargets: 5000 replicas at 1 s, of which 1000 hang until the
// probe timeout (poll_delay_dead = 2 s). The 4000 healthy ones must keep
// their cadence: their checks per second against 4000/s, and the fewest
// checks any healthy replica got in the window against its length in seconds.
func BenchmarkHungTargets(b *testing.B) {
	const n, hung = 5000, 1000
	const d = 10 * time.Second
	tg := newTargets(n)
	defer tg.srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = tg.url(i)
		// Spread the hung replicas over the schedule: every fifth one.
		if i%5 == 0 {
			tg.hang[i].Store(true)
		}
	}
	v := startVigil(b, vigilConfig{replicas: urls, interval: 1, parallelism: 2048, delayDead: 2})
	waitPage(b, v.URL, 30*time.Second)
	time.Sleep(4 * time.Second) // past the first timeouts
	before := tg.snapshot()
	vw := measure(v, tg, 0, n, d)
	after := tg.snapshot()
	v.stop()
	healthyHits, minHits := healthyCounts(before, after)

	// The same load from the bare loop, hung requests timing out after 2 s:
	// what this machine can do at the moment.
	bare := startBareLoop(b, bareSpec{base: tg.srv.URL, n: n, rate: n, conc: 2048, timeout: 2 * time.Second})
	time.Sleep(4 * time.Second)
	before = tg.snapshot()
	bw := measure(bare, tg, 0, n, d)
	after = tg.snapshot()
	bare.stop()
	bareHits, _ := healthyCounts(before, after)

	ideal := float64(n-hung) * vw.elapsed.Seconds()
	b.ReportMetric(float64(healthyHits)/vw.elapsed.Seconds(), "healthy-checks/s")
	b.ReportMetric(float64(healthyHits)/ideal, "healthy-ideal-ratio")
	b.ReportMetric(float64(minHits)/d.Seconds(), "min-replica-ratio")
	b.ReportMetric(float64(bareHits)/(float64(n-hung)*bw.elapsed.Seconds()), "bare-healthy-ideal-ratio")
	b.ReportMetric(100*vw.cpu.Seconds()/vw.elapsed.Seconds(), "vigil-cpu-%")
	b.ReportMetric(float64(vw.peakRSS)/mb, "rss-MB")
}

// healthyCounts sums the checks of the healthy replicas (all but every
// fifth) between two snapshots, and returns the fewest any one of them got.
func healthyCounts(before, after []int64) (total, fewest int64) {
	fewest = -1
	for i := range after {
		if i%5 == 0 {
			continue
		}
		h := after[i] - before[i]
		total += h
		if fewest < 0 || h < fewest {
			fewest = h
		}
	}
	return total, fewest
}

// BenchmarkProbeMixedIntervals measures the shape of a real fleet: 5000
// nodes of one replica each (independent endpoints), with their own
// poll_interval of 1, 5, 30 or 60 s in turn. Over a 60 s window it reports,
// per interval, the checks the targets counted against the ideal (each
// replica at its own rate), and the CPU per check against the bare client
// loop paced at the same total rate.
func BenchmarkProbeMixedIntervals(b *testing.B) {
	const n = 5000
	const d = 60 * time.Second
	intervals := []int{1, 5, 30, 60}
	tg := newTargets(n)
	defer tg.srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = tg.url(i)
	}
	v := startVigil(b, vigilConfig{replicas: urls, interval: 60, parallelism: probeParallelism, delayDead: 1,
		replicasNode: 1, nodeIntervals: intervals})
	waitPage(b, v.URL, 60*time.Second)
	if _, ok := waitFor(90*time.Second, tg.allHit); !ok {
		b.Fatal("not every replica was probed within 90 s")
	}
	before := tg.snapshot()
	vw := measure(v, tg, 0, n, d)
	after := tg.snapshot()
	v.stop()

	ideal := 0.0
	for i := range n {
		ideal += 1 / float64(intervals[i%len(intervals)])
	}
	bare := startBareLoop(b, bareSpec{base: tg.srv.URL, n: n, rate: ideal, conc: probeParallelism})
	time.Sleep(2 * time.Second)
	bw := measure(bare, tg, 0, n, 15*time.Second)
	bare.stop()

	for k, iv := range intervals {
		var hits int64
		count := 0
		for i := k; i < n; i += len(intervals) {
			hits += after[i] - before[i]
			count++
		}
		want := float64(count) * vw.elapsed.Seconds() / float64(iv)
		b.ReportMetric(float64(hits)/want, fmt.Sprintf("ideal-ratio-%ds", iv))
	}
	b.ReportMetric(vw.rate(), "checks/s")
	b.ReportMetric(vw.rate()/ideal, "ideal-ratio")
	b.ReportMetric(vw.cpuPerCheck(), "vigil-cpu-us/check")
	b.ReportMetric(bw.cpuPerCheck(), "bare-cpu-us/check")
	b.ReportMetric(vw.cpuPerCheck()/bw.cpuPerCheck(), "cpu-ratio")
	b.ReportMetric(float64(vw.peakRSS)/mb, "rss-MB")
}
