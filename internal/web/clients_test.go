package web

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vigilreporter "github.com/valeriansaliou/go-vigil-reporter/vigil_reporter"

	"github.com/vigil-go/vigil/internal/status"
)

// goReporterEnv makes the test binary run go-vigil-reporter instead of the
// tests: the library cannot be stopped, so it runs in a child process that
// the test kills to make the replica fall silent.
const goReporterEnv = "VIGIL_TEST_GO_REPORTER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(goReporterEnv); spec != "" {
		f := strings.Split(spec, "|") // url|token|probe|node|replica
		reporter := vigilreporter.New(f[0], f[1]).ProbeID(f[2]).NodeID(f[3]).ReplicaID(f[4]).
			Interval(time.Second).Build()
		reporter.Run()
		select {}
	}
	os.Exit(m.Run())
}

// busyMachine raises the load thresholds: the clients report this machine's
// real load, which a parallel test run can push above Vigil's 0.99.
const busyMachine = "push_system_cpu_sick_above = 1000.0\npush_system_ram_sick_above = 1000.0"

// TestGoReporterClient runs the unmodified go-vigil-reporter against Vigil.
func TestGoReporterClient(t *testing.T) {
	t.Parallel()
	rs := newReporterServer(t, busyMachine)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), goReporterEnv+"="+strings.Join(
		[]string{rs.URL, "reporter-secret", "app", "workers", "go-1"}, "|"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Its first report comes after 10 s.
	n := rs.waitReplicas(t, "app", "workers", status.Healthy)
	if r := n.Replicas[0]; r.ID != "go-1" || r.Load == nil || r.Load.RAM <= 0 || r.Load.RAM > 1 {
		t.Errorf("replica = %+v, want go-1 with a memory ratio in (0, 1]", r)
	}
	cmd.Process.Kill()
	cmd.Wait()
	rs.waitReplicas(t, "app", "workers", status.Dead)
}

// TestNodeReporterClient runs the unmodified npm vigil-reporter (pinned in
// testdata/reporters/package-lock.json) against Vigil.
func TestNodeReporterClient(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "reporters")
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_NODE") == "1" {
			t.Fatal("node is not installed (scripts/test installs it)")
		}
		t.Skip("node is not installed; set VIGIL_REQUIRE_NODE=1 to make this a failure")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "vigil-reporter")); err != nil {
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}

	rs := newReporterServer(t, busyMachine)
	// Reports at 10, 11, 12 and 13 s, then stops.
	cmd := exec.Command(node, "client.js", rs.URL, "reporter-secret", "app", "workers", "node-1", "1", "14")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	n := rs.waitReplicas(t, "app", "workers", status.Healthy)
	if r := n.Replicas[0]; r.ID != "node-1" || r.Load == nil {
		t.Errorf("replica = %+v, want node-1 with a load", r)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("client.js: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("the reporter logged errors:\n%s", stderr.String())
	}
	rs.waitReplicas(t, "app", "workers", status.Dead)
}

// rawRequest writes an HTTP request byte for byte and returns the status line.
func rawRequest(t *testing.T, addr, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Status
}

// TestClientShapedRequests sends requests shaped byte for byte like Vigil
// Local's and py-vigil-reporter's (which cannot run here: no PyPI).
func TestClientShapedRequests(t *testing.T) {
	t.Parallel()
	rs := newReporterServer(t, "")
	addr := strings.TrimPrefix(rs.URL, "http://")
	basic := func(user string) string {
		return base64.StdEncoding.EncodeToString([]byte(user + ":reporter-secret"))
	}

	// Vigil Local 1.2.6: empty user name, application/json, health.
	localBody := `{"replica":"http://10.0.0.7/health","health":"healthy","interval":1}`
	local := "POST /reporter/app/edge/ HTTP/1.1\r\n" +
		"host: " + addr + "\r\n" +
		"user-agent: vigil-local/1.2.6\r\n" +
		"authorization: Basic " + basic("") + "\r\n" +
		"content-type: application/json\r\n" +
		fmt.Sprintf("content-length: %d\r\n", len(localBody)) +
		"accept: */*\r\n\r\n" + localBody
	if got := rawRequest(t, addr, local); got != "200 OK" {
		t.Fatalf("Vigil Local report = %s, want 200 OK", got)
	}

	// py-vigil-reporter: requests with auth=("Authorization", token) and a float interval.
	pyBody := `{"replica": "10.0.0.5", "interval": 1.0, "load": {"cpu": 0.12, "ram": 0.34}}`
	py := "POST /reporter/app/workers/ HTTP/1.1\r\n" +
		"Host: " + addr + "\r\n" +
		"User-Agent: python-requests/2.31.0\r\n" +
		"Accept-Encoding: gzip, deflate\r\n" +
		"Accept: */*\r\n" +
		"Connection: keep-alive\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", len(pyBody)) +
		"Content-Type: application/json\r\n" +
		"Authorization: Basic " + basic("Authorization") + "\r\n\r\n" + pyBody
	if got := rawRequest(t, addr, py); got != "200 OK" {
		t.Fatalf("py-vigil-reporter report = %s, want 200 OK", got)
	}

	n := rs.waitReplicas(t, "app", "workers", status.Healthy)
	if l := n.Replicas[0].Load; l == nil || l.CPU != 0.12 || l.RAM != 0.34 {
		t.Errorf("py load = %+v, want cpu 0.12 ram 0.34", l)
	}
	n = rs.waitReplicas(t, "app", "edge", status.Healthy)
	if id := n.Replicas[0].ID; id != "http://10.0.0.7/health" {
		t.Errorf("local replica id = %q", id)
	}
	// Both stop: dead after interval + delay_dead.
	rs.waitReplicas(t, "app", "workers", status.Dead)
	rs.waitReplicas(t, "app", "edge", status.Dead)
}
