package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bareLoopEnv, when set in the environment of this test binary, makes it run
// the bare client loop instead of the tests (see startBareLoop).
const bareLoopEnv = "VIGIL_BENCH_BARE_LOOP"

// bareSpec is what the bare loop does: the same requests as Vigil's HTTP
// probe (HEAD, cache-buster query, User-Agent, a fresh connection each, no
// compression, a timeout), to n paths of base, either paced at rate requests
// per second spread evenly over the paths, or as fast as conc workers can
// (rate 0). At most conc requests are in flight, like poll_parallelism.
type bareSpec struct {
	base    string
	n       int
	rate    float64
	conc    int
	timeout time.Duration // per request, as poll_delay_dead; 10 s when 0
}

func (s bareSpec) String() string {
	return fmt.Sprintf("%s|%d|%g|%d|%d", s.base, s.n, s.rate, s.conc, s.timeout)
}

func parseBareSpec(v string) (bareSpec, error) {
	f := strings.Split(v, "|")
	if len(f) != 5 {
		return bareSpec{}, fmt.Errorf("bad spec %q", v)
	}
	n, err1 := strconv.Atoi(f[1])
	rate, err2 := strconv.ParseFloat(f[2], 64)
	conc, err3 := strconv.Atoi(f[3])
	timeout, err4 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || n < 1 || conc < 1 {
		return bareSpec{}, fmt.Errorf("bad spec %q", v)
	}
	if timeout <= 0 {
		timeout = int64(10 * time.Second)
	}
	return bareSpec{base: f[0], n: n, rate: rate, conc: conc, timeout: time.Duration(timeout)}, nil
}

// startBareLoop runs the bare loop as a child process (this binary), so that
// its CPU time is measured apart from the targets'. It runs until stopped.
func startBareLoop(b *testing.B, s bareSpec) *proc {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), bareLoopEnv+"="+s.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	p := &proc{cmd: cmd, stdin: stdin, started: time.Now()}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.stop)
	return p
}

// runBareLoop is the child's main: it sends requests until stdin closes.
func runBareLoop(spec string) int {
	s, err := parseBareSpec(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	one := func(i int) {
		rctx, rcancel := context.WithTimeout(ctx, s.timeout)
		defer rcancel()
		url := s.base + "/r/" + strconv.Itoa(i) + "?" + strconv.FormatInt(time.Now().Unix(), 10)
		req, err := http.NewRequestWithContext(rctx, http.MethodHead, url, nil)
		if err != nil {
			return
		}
		req.Header.Set("User-Agent", "vigil (+https://status.example.com/)")
		resp, err := client.Do(req)
		if err != nil {
			return
		}
		resp.Body.Close()
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	if s.rate <= 0 {
		for w := range s.conc {
			wg.Go(func() {
				for i := w; ctx.Err() == nil; i = (i + s.conc) % s.n {
					one(i)
				}
			})
		}
		<-ctx.Done()
		return 0
	}
	// Paced: every millisecond, start the requests that fell due.
	slots := make(chan struct{}, s.conc)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return 0
		case now := <-tick.C:
			due := int(now.Sub(start).Seconds() * s.rate)
			for ; sent < due; sent++ {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return 0
				}
				i := sent % s.n
				wg.Go(func() {
					defer func() { <-slots }()
					one(i)
				})
			}
		}
	}
}
