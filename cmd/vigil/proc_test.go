package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// running is a vigil process under test.
type running struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{} // closed when its output ends
}

func startVigil(t *testing.T, cfg string) *running {
	t.Helper()
	v := &running{cmd: exec.Command(vigilBin, "-c", cfg), done: make(chan struct{})}
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	v.cmd.Stderr = v.cmd.Stdout
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v.cmd.Process.Kill()
		<-v.done
		v.cmd.Wait()
		if t.Failed() {
			t.Logf("vigil output:\n%s", v.output())
		}
	})
	urls := make(chan string, 1)
	go func() {
		defer close(v.done)
		openRE := regexp.MustCompile(`is running: open (http://\S+)`)
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			v.mu.Lock()
			v.logs.WriteString(lines.Text() + "\n")
			v.mu.Unlock()
			if m := openRE.FindStringSubmatch(lines.Text()); m != nil {
				urls <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case v.url = <-urls:
	case <-v.done:
		t.Fatalf("vigil exited before serving:\n%s", v.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil did not start within 30 s:\n%s", v.output())
	}
	return v
}

func (v *running) output() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.logs.String()
}

// kill ends vigil with SIGKILL: nothing is flushed.
func (v *running) kill(t *testing.T) {
	t.Helper()
	if err := v.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-v.done
	v.cmd.Wait()
}

// stop ends vigil gracefully and checks that it flushed and stopped.
func (v *running) stop(t *testing.T) {
	t.Helper()
	if err := v.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.done:
	case <-time.After(20 * time.Second):
		t.Fatal("vigil did not stop within 20 s")
	}
	if err := v.cmd.Wait(); err != nil {
		t.Errorf("vigil exited with %v, want 0", err)
	}
	if out := v.output(); strings.Contains(out, "level=ERROR") {
		t.Errorf("errors logged:\n%s", out)
	}
}

// await waits up to 60 s for a log line containing s.
func (v *running) await(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(v.output(), s) {
		select {
		case <-v.done:
			if !strings.Contains(v.output(), s) {
				t.Fatalf("vigil exited without a log line with %q; log:\n%s", s, v.output())
			}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q after 60 s; log:\n%s", s, v.output())
		}
	}
}
