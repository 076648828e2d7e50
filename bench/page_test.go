package bench

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rps float64
	p99 time.Duration
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkP99    = regexp.MustCompile(`\n\s+99%\s+([0-9.]+)(us|ms|s)\b`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: \d+`)
	wrkSocket = regexp.MustCompile(`Socket errors: .*`)
)

// runWrk loads url with wrk -t2 -c64 -d<d> --latency.
func runWrk(b *testing.B, url string, d time.Duration) wrkResult {
	out, err := exec.Command("wrk", "-t2", "-c64", fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %s: %v\n%s", url, err, out)
	}
	if m := wrkNon2xx.Find(out); m != nil {
		b.Fatalf("wrk %s: %s\n%s", url, m, out)
	}
	if m := wrkSocket.Find(out); m != nil {
		b.Logf("wrk %s: %s", url, m)
	}
	rps := wrkRPS.FindSubmatch(out)
	p99 := wrkP99.FindSubmatch(out)
	if rps == nil || p99 == nil {
		b.Fatalf("cannot read wrk output:\n%s", out)
	}
	var r wrkResult
	r.rps, _ = strconv.ParseFloat(string(rps[1]), 64)
	v, _ := strconv.ParseFloat(string(p99[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(p99[2])]
	r.p99 = time.Duration(v * float64(unit))
	return r
}

// BenchmarkStatusPage loads the status page and /status/report of Vigil
// with 1000 replicas, probed at 1 s throughout, with wrk -t2 -c64 -d10s, and
// then a static server in this process that serves the same bytes with the
// same headers from memory (Vigil still probing, so the machine is as busy).
// wrk asks for no compression, so both send the plain body. It reports the
// requests per second against the static server's, the p99 latency, and
// Vigil's RSS before, at its peak during and after the load.
func BenchmarkStatusPage(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed: apt-get install -y wrk (bench/run does it)")
	}
	const n = 1000
	const d = 10 * time.Second
	tg := newTargets(n)
	defer tg.srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = tg.url(i)
	}
	v := startVigil(b, vigilConfig{replicas: urls, interval: 1, parallelism: probeParallelism, delayDead: 10})
	waitPage(b, v.URL, 30*time.Second)
	if _, ok := waitFor(20*time.Second, tg.allHit); !ok {
		b.Fatal("not every replica probed")
	}
	time.Sleep(2 * time.Second)

	for _, path := range []string{"", "status/report"} {
		name := "page"
		if path != "" {
			name = "report"
		}
		b.Run(name, func(b *testing.B) {
			rssBefore := v.rss()
			peak := sampleRSS(v, 250*time.Millisecond)
			vr := runWrk(b, v.URL+path, d)
			rssPeak := peak.Stop()
			time.Sleep(time.Second)
			rssAfter := v.rss()

			// The same bytes and headers, from memory.
			resp, err := http.Get(v.URL + path)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			header := resp.Header.Clone()
			static := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range header {
					w.Header()[k] = vs
				}
				w.Write(body)
			}))
			defer static.Close()
			sr := runWrk(b, static.URL+"/", d)

			b.ReportMetric(vr.rps, "req/s")
			b.ReportMetric(sr.rps, "static-req/s")
			b.ReportMetric(vr.rps/sr.rps, "static-ratio")
			b.ReportMetric(float64(vr.p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(sr.p99.Microseconds())/1000, "static-p99-ms")
			b.ReportMetric(float64(len(body))/1024, "body-KiB")
			b.ReportMetric(float64(rssBefore)/mb, "rss-before-MB")
			b.ReportMetric(float64(rssPeak)/mb, "rss-peak-MB")
			b.ReportMetric(float64(rssAfter)/mb, "rss-after-MB")
		})
	}
}
