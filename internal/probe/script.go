package probe

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Script runs a shell script from the config (a script-mode replica). Exit
// status 0 is healthy, 1 is sick, anything else (a signal included) is dead,
// as in Vigil. Unlike Vigil, the script has a timeout, and its output ends up
// in the reason instead of being thrown away.
//
// The script is passed to "sh -c" as an argument rather than written to a
// temporary file (Vigil's way, which fails on a read-only /tmp) or fed on
// stdin (where a command in the script that reads stdin, such as ssh or
// mysql, would swallow the rest of the script). The price is Linux's limit of
// 128 KiB for one argument, far above any check script. The script inherits
// the environment; its stdin is /dev/null.
type Script struct {
	Source string // the script text, run by sh -c
	// Timeout is script_timeout: when it expires the script's whole process
	// group is killed. ≤ 0: ctx alone bounds the run.
	Timeout time.Duration
	Dir     string // working directory; "" keeps the daemon's
}

const (
	// scriptTailSize is how much of the end of a script's output goes into
	// a reason: enough for an error message, short enough for a notification.
	scriptTailSize = 512

	// scriptWaitDelay is how long, after the script has exited, its output is
	// still read while a process it left behind (cmd &) holds the pipe open.
	// Past it the pipe is closed and the result stands; without it such a
	// script would hang its probe until the leftover process exits.
	scriptWaitDelay = 500 * time.Millisecond
)

// Probe runs the script once.
func (s Script) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, s.Timeout)
	defer cancel()

	var out tailBuffer
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Source)
	cmd.Dir = s.Dir
	cmd.Stdout = &out // the same writer for both: one pipe, output in order
	cmd.Stderr = &out
	// The script leads its own process group, so a timeout kills what it
	// started too (sleep, curl, a pipeline), not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = scriptWaitDelay

	start := time.Now()
	if s.Dir != "" {
		// Checked first: exec would blame sh ("fork/exec /usr/bin/sh: no such
		// file or directory") for a missing working directory.
		if _, err := os.Stat(s.Dir); err != nil {
			return dead(time.Since(start), "start sh: working directory: "+err.Error())
		}
	}
	err := cmd.Run()
	latency := time.Since(start)
	tail := out.String()

	if cmd.ProcessState == nil { // sh could not be started
		return dead(latency, "start sh: "+err.Error())
	}
	// The exit status decides, not err: after a clean exit, err may still
	// report a pipe closed by WaitDelay or a group kill aimed at leftovers.
	code := cmd.ProcessState.ExitCode()
	switch {
	case code == 0:
		return Result{Health: status.Healthy, Latency: latency}
	case code == 1:
		return Result{Health: status.Sick, Latency: latency, Reason: withOutput("exit status 1", tail)}
	case code == -1 && ctx.Err() != nil: // killed by Cancel
		return dead(latency, withOutput(errorText(ctx, context.Cause(ctx), s.Timeout), tail))
	case code == -1: // killed by a signal from elsewhere
		return dead(latency, withOutput(cmd.ProcessState.String(), tail))
	}
	return dead(latency, withOutput("exit status "+strconv.Itoa(code), tail))
}

// withOutput appends the script's output, if any, to what happened.
func withOutput(what, output string) string {
	if output == "" {
		return what
	}
	return what + ": " + output
}

// tailBuffer keeps the last scriptTailSize bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	truncated bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) >= scriptTailSize {
		b.truncated = b.truncated || len(b.buf) > 0 || len(p) > scriptTailSize
		b.buf = append(b.buf[:0], p[len(p)-scriptTailSize:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - scriptTailSize; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// String returns the kept output, trimmed, as valid UTF-8, starting with
// "…" when earlier output was dropped.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf
	if b.truncated {
		// Skip a rune cut in half by the window.
		for len(s) > 0 && s[0]&0xC0 == 0x80 {
			s = s[1:]
		}
	}
	t := strings.TrimSpace(strings.ToValidUTF8(string(s), "\uFFFD"))
	if b.truncated && t != "" {
		t = "…" + t
	}
	return t
}
