package bench

// The harness of the process benchmarks: Vigil runs as a child process built
// from this module, so that its CPU time and resident memory can be read from
// /proc; the loopback targets it probes run in the benchmark process and
// count what they receive, which is the measure of probe throughput; the bare
// client loop it is compared with runs as another child process (this test
// binary re-executed), measured the same way.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(bareLoopEnv); spec != "" {
		os.Exit(runBareLoop(spec))
	}
	raiseFileLimit()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// raiseFileLimit lifts the soft limit on open files to the hard one, for this
// process and (set explicitly, so os/exec does not restore the old one) for
// its children: thousands of probes and their targets each hold a socket.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

var (
	buildOnce sync.Once
	buildDir  string
	vigilBin  string
	buildErr  error
)

// vigilBinary builds cmd/vigil once per run, without the race detector,
// as it is shipped. BENCH_VIGIL_BINARY names a binary built beforehand
// instead, to measure another commit with this run's benchmarks.
func vigilBinary(b *testing.B) string {
	if bin := os.Getenv("BENCH_VIGIL_BINARY"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "vigil-bench")
		if buildErr != nil {
			return
		}
		vigilBin = filepath.Join(buildDir, "vigil")
		cmd := exec.Command("go", "build", "-o", vigilBin, "github.com/vigil-go/vigil/cmd/vigil")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("build vigil: %v\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return vigilBin
}

// ---- targets ----------------------------------------------------------------

// targets is a loopback HTTP server with n paths, /r/0 … /r/<n-1>, that
// counts the requests each path receives. A path can be made to answer 500
// or to hang until the client gives up.
type targets struct {
	srv    *loopServer
	counts []atomic.Int64
	fail   []atomic.Bool
	hang   []atomic.Bool
}

// loopServer is a minimal loopback server (net/http/httptest would do, but its
// connection tracking costs CPU that a real target does not spend).
type loopServer struct {
	URL string
	ln  net.Listener
	srv *http.Server
}

func serve(h http.Handler) *loopServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &loopServer{URL: "http://" + ln.Addr().String(), ln: ln, srv: &http.Server{Handler: h, ErrorLog: nil}}
	go s.srv.Serve(ln)
	return s
}

func (s *loopServer) Close() { s.srv.Close() }

func newTargets(n int) *targets {
	t := &targets{counts: make([]atomic.Int64, n), fail: make([]atomic.Bool, n), hang: make([]atomic.Bool, n)}
	t.srv = serve(http.HandlerFunc(t.handle))
	return t
}

func (t *targets) handle(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
	if err != nil || i < 0 || i >= len(t.counts) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	t.counts[i].Add(1)
	switch {
	case t.hang[i].Load():
		<-r.Context().Done()
	case t.fail[i].Load():
		w.WriteHeader(http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// url is the replica URL of path i.
func (t *targets) url(i int) string { return t.srv.URL + "/r/" + strconv.Itoa(i) }

// total is the number of requests received on paths [from, to).
func (t *targets) total(from, to int) int64 {
	var sum int64
	for i := from; i < to; i++ {
		sum += t.counts[i].Load()
	}
	return sum
}

// snapshot copies the per-path counts.
func (t *targets) snapshot() []int64 {
	out := make([]int64, len(t.counts))
	for i := range t.counts {
		out[i] = t.counts[i].Load()
	}
	return out
}

// allHit reports whether every path has received at least one request.
func (t *targets) allHit() bool {
	for i := range t.counts {
		if t.counts[i].Load() == 0 {
			return false
		}
	}
	return true
}

func (t *targets) reset() {
	for i := range t.counts {
		t.counts[i].Store(0)
	}
}

// ---- vigil process ------------------------------------------------------------

// vigilConfig describes the config of one benchmark run.
type vigilConfig struct {
	replicas     []string // poll replica URLs, spread over nodes of 100
	interval     int      // poll_interval, seconds
	parallelism  int      // poll_parallelism
	retry        int      // poll_retry
	retryWaitMS  int      // poll_retry_wait
	delayDead    int      // poll_delay_dead, seconds
	webhook      string   // [notify.webhook] hook_url, or ""
	replicasNode int      // replicas per node; 100 when 0
	// nodeIntervals, when set, gives the nodes their own poll_interval,
	// in turn: node i gets nodeIntervals[i % len].
	nodeIntervals []int
	// source is server.probe_source_address, or "".
	source string
	// pgURL, when set, stores in this PostgreSQL database instead of SQLite.
	pgURL string
	// cluster, when set, makes the process a cluster member (on pgURL).
	cluster *clusterMember
}

// clusterMember is the [cluster] section of a member.
type clusterMember struct {
	nodeID, label      string
	confirmations      int
	heartbeat, timeout int // seconds
}

func (c vigilConfig) text(dir string) string {
	var s strings.Builder
	fmt.Fprintf(&s, `[server]
log_level = "error"
inet = "127.0.0.1:0"
manager_token = "m"
reporter_token = "r"
%s
`+configtest.Branding+`
[metrics]
poll_interval = %d
poll_parallelism = %d
poll_retry = %d
poll_retry_wait = %d
poll_delay_dead = %d

%s`, c.sourceLine(), c.interval, c.parallelism, c.retry, c.retryWaitMS, max(c.delayDead, 1), c.storage(dir))
	if c.webhook != "" {
		fmt.Fprintf(&s, "\n[notify]\nstartup_notification = false\n\n[notify.webhook]\nhook_url = %q\n", c.webhook)
	}
	s.WriteString("\n[[probe.service]]\nid = \"web\"\nlabel = \"Web\"\n")
	per := c.replicasNode
	if per == 0 {
		per = 100
	}
	for i := 0; i < len(c.replicas); i += per {
		fmt.Fprintf(&s, "\n[[probe.service.node]]\nid = \"n%d\"\nlabel = \"Node %d\"\nmode = \"poll\"\n", i/per, i/per)
		if len(c.nodeIntervals) > 0 {
			fmt.Fprintf(&s, "poll_interval = %d\n", c.nodeIntervals[(i/per)%len(c.nodeIntervals)])
		}
		s.WriteString("replicas = [\n")
		for _, r := range c.replicas[i:min(i+per, len(c.replicas))] {
			fmt.Fprintf(&s, "  %q,\n", r)
		}
		s.WriteString("]\n")
	}
	return s.String()
}

func (c vigilConfig) sourceLine() string {
	if c.source == "" {
		return ""
	}
	return fmt.Sprintf("probe_source_address = %q\n", c.source)
}

// storage is the [storage] section, and [cluster] for a member.
func (c vigilConfig) storage(dir string) string {
	if c.pgURL == "" {
		return fmt.Sprintf("[storage]\npath = %q\n", filepath.Join(dir, "vigil.db"))
	}
	s := fmt.Sprintf("[storage]\ndriver = \"postgres\"\nurl = %q\n", c.pgURL)
	if m := c.cluster; m != nil {
		s += fmt.Sprintf("\n[cluster]\nenabled = true\nnode_id = %q\nlabel = %q\n"+
			"confirmations = %d\nheartbeat_interval = %d\nmember_timeout = %d\n",
			m.nodeID, m.label, m.confirmations, m.heartbeat, m.timeout)
	}
	return s
}

// proc is a running child process whose CPU and memory can be read.
type proc struct {
	cmd     *exec.Cmd
	started time.Time
	URL     string // Vigil's base URL, with a trailing slash
	stdin   io.WriteCloser
	out     *bytes.Buffer
}

// startVigil writes the config to a temporary directory and starts Vigil on
// it, returning once it has printed its URL.
func startVigil(b *testing.B, c vigilConfig) *proc {
	bin := vigilBinary(b)
	dir := b.TempDir()
	path := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(path, []byte(c.text(dir)), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	p := &proc{cmd: cmd, out: &errBuf}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.stop)
	urlRE := regexp.MustCompile(`is running: open (http://\S+)`)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if m := urlRE.FindStringSubmatch(lines.Text()); m != nil {
			p.URL = m[1]
			break
		}
	}
	if p.URL == "" {
		b.Fatalf("vigil printed no URL; stderr:\n%s", errBuf.String())
	}
	go io.Copy(io.Discard, stdout)
	return p
}

// stop ends the process with SIGTERM and waits for it.
func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on Linux.
const clockTicks = 100

// cpu returns the CPU time (user + system) the process has used.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" that closes the command name: state is field 3,
	// utime 14 and stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// rss returns the resident set size in bytes (VmRSS).
func (p *proc) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// waitPage polls GET base until it answers 200 and returns when it did.
func waitPage(b *testing.B, base string, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now()
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("%s not served within %s", base, limit)
	return time.Time{}
}

// waitFor polls cond every 5 ms and returns when it first held, or false
// after limit.
func waitFor(limit time.Duration, cond func() bool) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rssSampler records the peak RSS of p until stopped.
type rssSampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(p *proc, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if r := p.rss(); r > s.peak.Load() {
				s.peak.Store(r)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) Stop() int64 { close(s.stop); <-s.done; return s.peak.Load() }

// ---- statistics --------------------------------------------------------------

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

const mb = 1 << 20
