package probe

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

func TestScriptExitStatus(t *testing.T) {
	for _, tt := range []struct {
		script     string
		want       status.Health
		wantReason string
	}{
		{"exit 0", status.Healthy, ""},
		{"true", status.Healthy, ""},
		{"echo all good", status.Healthy, ""},
		{"exit 1", status.Sick, "exit status 1"},
		{"echo 'disk at 91%' >&2; exit 1", status.Sick, "exit status 1: disk at 91%"},
		{"exit 2", status.Dead, "exit status 2"},
		{"echo down; exit 255", status.Dead, "exit status 255: down"},
		{"kill -9 $$", status.Dead, "signal: killed"},
		// sh, not Go or the config loader, expands $… and $(…).
		{"status=$(echo 3); exit $status", status.Dead, "exit status 3"},
		{"n=1\nif [ \"$n\" -eq 1 ]; then\n  echo one\n  exit 1\nfi", status.Sick, "exit status 1: one"},
		{"echo first; echo second >&2; echo third; exit 1", status.Sick, "exit status 1: first\nsecond\nthird"},
		// stdin is /dev/null: a command reading it ends at once.
		{"cat; exit 1", status.Sick, "exit status 1"},
	} {
		got := Script{Source: tt.script, Timeout: 10 * time.Second}.Probe(context.Background())
		if got.Health != tt.want || got.Reason != tt.wantReason {
			t.Errorf("Script{%q}.Probe() = %v %q, want %v %q", tt.script, got.Health, got.Reason, tt.want, tt.wantReason)
		}
		if got.Latency <= 0 {
			t.Errorf("Script{%q}.Probe() latency = %v, want the run time, > 0", tt.script, got.Latency)
		}
	}
}

func TestScriptCommandNotFound(t *testing.T) {
	got := Script{Source: "no-such-command-here", Timeout: 10 * time.Second}.Probe(context.Background())
	// The shell's own wording differs between dash and bash.
	if got.Health != status.Dead || !strings.HasPrefix(got.Reason, "exit status 127: ") || !strings.Contains(got.Reason, "no-such-command-here") {
		t.Errorf("Probe() = %v %q, want dead, exit status 127 and the shell's message", got.Health, got.Reason)
	}
}

func TestScriptOutputTail(t *testing.T) {
	script := `i=0; while [ $i -lt 200 ]; do echo "line $i of noise"; i=$((i+1)); done; echo "the real error é" >&2; exit 2`
	got := Script{Source: script, Timeout: 10 * time.Second}.Probe(context.Background())
	if got.Health != status.Dead {
		t.Fatalf("Probe() = %+v, want dead", got)
	}
	if !strings.HasPrefix(got.Reason, "exit status 2: …") || !strings.HasSuffix(got.Reason, "the real error é") {
		t.Errorf("Reason = %q, want the exit status, then the end of the output", got.Reason)
	}
	if n := len(got.Reason); n > len("exit status 2: …")+scriptTailSize {
		t.Errorf("Reason is %d bytes, want at most the tail of %d bytes", n, scriptTailSize)
	}
}

func TestScriptTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The shell starts a grandchild, records its pid, and waits for it.
	script := "sleep 100 &\necho $! > " + pidFile + "\necho started\nwait"
	got := Script{Source: script, Timeout: 500 * time.Millisecond}.Probe(context.Background())
	if want := "timeout after 500ms: started"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
	if got.Latency < 500*time.Millisecond {
		t.Errorf("Latency = %v, want at least the timeout", got.Latency)
	}
	waitGone(t, readPid(t, pidFile))
}

func TestScriptBackgroundChildDoesNotHang(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The background sleep inherits stdout and would hold the pipe open for 100 s.
	script := "sleep 100 &\necho $! > " + pidFile + "\necho bye"
	done := make(chan Result, 1)
	go func() { done <- Script{Source: script, Timeout: time.Minute}.Probe(context.Background()) }()
	var got Result
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Probe() still waiting for the script's background child")
	}
	pid := readPid(t, pidFile)
	syscall.Kill(pid, syscall.SIGKILL)
	if got.Health != status.Healthy {
		t.Errorf("Probe() = %+v, want healthy (the script itself exited 0)", got)
	}
}

func TestScriptEnvironmentAndDir(t *testing.T) {
	t.Setenv("VIGIL_PROBE_TEST", "from-env")
	dir := t.TempDir()
	got := Script{Source: `echo "$VIGIL_PROBE_TEST in $(pwd)"; exit 1`, Dir: dir}.Probe(context.Background())
	if want := "exit status 1: from-env in " + dir; got.Health != status.Sick || got.Reason != want {
		t.Errorf("Probe() = %v %q, want sick %q", got.Health, got.Reason, want)
	}
}

func TestScriptCannotStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	got := Script{Source: "exit 0", Dir: dir}.Probe(context.Background())
	if got.Health != status.Dead || !strings.HasPrefix(got.Reason, "start sh: ") || !strings.Contains(got.Reason, "missing") {
		t.Errorf("Probe() = %v %q, want dead, naming the missing directory", got.Health, got.Reason)
	}
}

func TestScriptCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	got := Script{Source: "sleep 100"}.Probe(ctx)
	if got.Health != status.Dead || got.Reason != "canceled" {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, "canceled")
	}
}

func TestTailBuffer(t *testing.T) {
	for _, tt := range []struct {
		writes []string
		want   string
	}{
		{nil, ""},
		{[]string{"  hello \n"}, "hello"},
		{[]string{"a", "b", "c"}, "abc"},
		{[]string{strings.Repeat("x", scriptTailSize)}, strings.Repeat("x", scriptTailSize)},
		{[]string{"dropped", strings.Repeat("y", scriptTailSize)}, "…" + strings.Repeat("y", scriptTailSize)},
		{[]string{strings.Repeat("z", scriptTailSize+10)}, "…" + strings.Repeat("z", scriptTailSize)},
		{[]string{strings.Repeat("a", scriptTailSize-1), "bc"}, "…" + strings.Repeat("a", scriptTailSize-2) + "bc"},
		// A two-byte rune cut by the window is dropped, not half kept.
		{[]string{"é" + strings.Repeat("w", scriptTailSize-1)}, "…" + strings.Repeat("w", scriptTailSize-1)},
		{[]string{"bad \xff byte"}, "bad \uFFFD byte"},
	} {
		var b tailBuffer
		for _, w := range tt.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%d bytes) = %d, %v", len(w), n, err)
			}
		}
		if got := b.String(); got != tt.want {
			t.Errorf("after writes of %d strings: String() = %q, want %q", len(tt.writes), got, tt.want)
		}
	}
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until pid no longer runs. A killed process whose parent died
// may linger as a zombie until init reaps it; a zombie runs nothing, so it
// counts as gone.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // no such process
		}
		// The state follows the parenthesised command name: "123 (sleep) Z ...".
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d (%s) still runs after the timeout", pid, strings.TrimSpace(string(stat)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
