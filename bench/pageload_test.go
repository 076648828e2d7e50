package bench

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// loadPaths are the public documents BenchmarkPageUnderLoad puts under load,
// relative to Vigil's base URL ("" is the status page). Every public document
// served from memory belongs here: add its path and the benchmark measures
// it the same way.
var loadPaths = []string{
	"",
	"status/report",
	"api/v2/summary.json",
}

// BenchmarkPageUnderLoad measures what visitors cost the checks: one
// service of N nodes with one HTTP replica each (N independent endpoints,
// the shape of a fleet of peers), probed every second against loopback
// targets. For each path of loadPaths it runs wrk -t2 -c64 (no
// compression) for 10 s against Vigil while counting the checks the
// targets receive, then the same load against a static server of the same
// bytes. It reports the body's bytes per node, the serving rate against the
// static server's, the p99 latency, the checks per second during the load
// against the ideal N/s, and Vigil's RSS idle and at its peak under load.
//
//	go test ./bench/ -run '^$' -bench PageUnderLoad -benchtime=1x -count=3 -timeout 30m
func BenchmarkPageUnderLoad(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed: apt-get install -y wrk (bench/run does it)")
	}
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) { pageUnderLoad(b, n) })
	}
}

func pageUnderLoad(b *testing.B, n int) {
	const d = 10 * time.Second
	tg := newTargets(n)
	defer tg.srv.Close()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = tg.url(i)
	}
	v := startVigil(b, vigilConfig{replicas: urls, interval: 1, parallelism: probeParallelism, delayDead: 10, replicasNode: 1})
	waitPage(b, v.URL, 60*time.Second)
	if _, ok := waitFor(60*time.Second, tg.allHit); !ok {
		b.Fatal("not every replica probed within 60 s")
	}
	// Let the first history load and the first renditions settle, then
	// measure the idle state: checks per second and RSS without visitors.
	for _, p := range loadPaths {
		fetch(b, v.URL+p)
	}
	time.Sleep(3 * time.Second)
	idle := measure(v, tg, 0, n, 5*time.Second)
	ideal := float64(n)
	b.ReportMetric(idle.rate()/ideal, "idle-ideal-ratio")
	b.ReportMetric(float64(idle.peakRSS)/mb, "rss-idle-MB")

	for _, p := range loadPaths {
		name := strings.TrimSuffix(strings.ReplaceAll(p, "/", "-"), ".json")
		if name == "" {
			name = "page"
		}
		body, header := fetch(b, v.URL+p)

		// Vigil under load, the checks counted meanwhile.
		during := make(chan window, 1)
		go func() { during <- measure(v, tg, 0, n, d) }()
		vr := runWrk(b, v.URL+p, d)
		w := <-during
		time.Sleep(time.Second)

		// The same bytes and headers from memory, Vigil still probing.
		static := serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			for k, vs := range header {
				rw.Header()[k] = vs
			}
			rw.Write(body)
		}))
		sr := runWrk(b, static.URL+"/", d)
		static.Close()
		time.Sleep(time.Second)

		b.ReportMetric(float64(len(body))/float64(n), name+"-bytes/node")
		b.ReportMetric(vr.rps, name+"-req/s")
		b.ReportMetric(vr.rps/sr.rps, name+"-static-ratio")
		b.ReportMetric(float64(vr.p99.Microseconds())/1000, name+"-p99-ms")
		b.ReportMetric(float64(sr.p99.Microseconds())/1000, name+"-static-p99-ms")
		b.ReportMetric(w.rate()/ideal, name+"-load-ideal-ratio")
		b.ReportMetric(float64(w.peakRSS)/mb, name+"-rss-load-MB")
		b.ReportMetric(float64(w.peakRSS)/float64(idle.peakRSS), name+"-rss-load/idle")
	}
}

// fetch GETs url without compression and returns its body and headers.
func fetch(b *testing.B, url string) ([]byte, http.Header) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s", url, resp.Status)
	}
	return body, resp.Header.Clone()
}
