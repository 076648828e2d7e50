package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vigilBin is the binary under test, built once by TestMain with the
// build facts below set as a release sets them.
var vigilBin string

const (
	testVersion = "9.8.7-test"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testDate    = "2031-03-04T09:03:01Z"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-bin")
	if err != nil {
		panic(err)
	}
	vigilBin = filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-race", "-o", vigilBin,
		"-ldflags", "-X main.version="+testVersion+" -X main.commit="+testCommit+" -X main.date="+testDate, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build vigil: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func vigil(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(vigilBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run vigil %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestVersion: the facts set with -ldflags are printed, by the
// subcommand and the flag alike.
func TestVersion(t *testing.T) {
	want := "vigil " + testVersion + "\ncommit: " + testCommit + "\nbuilt: " + testDate +
		"\ngo: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, _, code := vigil(t, args...)
		if code != 0 || out != want {
			t.Errorf("vigil %v = %q, exit %d; want %q, exit 0", args, out, code, want)
		}
	}
}

func TestCheckConfigReportsEveryProblem(t *testing.T) {
	_, stderr, code := vigil(t, "check-config", "-c", "testdata/two-problems.cfg")
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	for _, want := range []string{
		"warning: testdata/two-problems.cfg:5:1: server.stale_key: unknown key, ignored",
		"error: testdata/two-problems.cfg:18:20: metrics.poll_parallelism: must be at least 1, got 0",
		"error: testdata/two-problems.cfg:28:13: probe.service[0].node[0].replicas[0]: unsupported scheme \"udp\"",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check-config output lacks %q; got:\n%s", want, stderr)
		}
	}
}

func TestCheckConfigExample(t *testing.T) {
	out, stderr, code := vigil(t, "check-config", "-c", "../../examples/config.cfg")
	if code != 0 || stderr != "" || !strings.Contains(out, "ok (0 warnings)") {
		t.Errorf("check-config example = %q / %q, exit %d; want ok", out, stderr, code)
	}
}

func TestMissingConfigNamesTheFile(t *testing.T) {
	_, stderr, code := vigil(t, "-c", "testdata/nope.cfg")
	if code != 1 || !strings.Contains(stderr, "testdata/nope.cfg") || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing config: %q, exit %d; want the file name and the cause, exit 1", stderr, code)
	}
}

// TestServeAndStop runs the daemon, reads its page, and stops it with
// SIGTERM: it must exit 0 after a graceful shutdown.
func TestServeAndStop(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.cfg")
	src, err := os.ReadFile("testdata/two-problems.cfg")
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Replace(string(src), "poll_parallelism = 0", "poll_parallelism = 2", 1)
	good = strings.Replace(good, "udp://10.0.0.1:53", "tcp://127.0.0.1:9", 1)
	good = strings.Replace(good, "[server]", "[server]\nlog_level = \"info\"", 1)
	good += fmt.Sprintf("\n[storage]\npath = %q\n", filepath.Join(filepath.Dir(cfg), "vigil.db"))
	if err := os.WriteFile(cfg, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(vigilBin, "-c", cfg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := bufio.NewScanner(stdout)
	var url string
	var logs strings.Builder
	openRE := regexp.MustCompile(`is running: open (http://\S+)`)
	for url == "" && lines.Scan() {
		logs.WriteString(lines.Text() + "\n")
		if m := openRE.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no URL printed; output:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "server.stale_key: unknown key") {
		t.Errorf("config warning not logged at start; output:\n%s", logs.String())
	}
	rest := make(chan string)
	go func() {
		b, _ := io.ReadAll(stdout)
		rest <- string(b)
	}()

	resp, err := http.Get(url + "status/text")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !regexp.MustCompile(`^(healthy|sick|dead)$`).Match(body) {
		t.Errorf("GET /status/text = %d %q", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("vigil exited with %v after SIGTERM, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("vigil did not stop within 20s of SIGTERM")
	}
	if out := <-rest; !strings.Contains(out, "vigil stopped") {
		t.Errorf("no shutdown log line; output:\n%s", out)
	}
}

// TestCheckConfigCountsWarnings: the summary agrees in number.
func TestCheckConfigCountsWarnings(t *testing.T) {
	src, err := os.ReadFile("../../examples/config.cfg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for n, want := range map[int]string{1: "ok (1 warning)\n", 2: "ok (2 warnings)\n"} {
		stale := ""
		for i := range n {
			stale += "\nstale_key_" + strconv.Itoa(i) + " = 1"
		}
		text := strings.Replace(string(src), "[server]", "[server]"+stale, 1)
		cfg := filepath.Join(dir, strconv.Itoa(n)+".cfg")
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := vigil(t, "check-config", "-c", cfg)
		if code != 0 || !strings.HasSuffix(out, want) || strings.Count(stderr, "warning:") != n {
			t.Errorf("%d unknown keys: %q / %q, exit %d; want %q", n, out, stderr, code, want)
		}
	}
}
