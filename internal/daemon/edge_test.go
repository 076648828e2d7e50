package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestSlowBodiesAreCut: a client that sends a request body slower than
// request_body_timeout has its connection closed, on every route: those
// that read the body (reporter, manager, MCP) and those that do not (the
// page, which net/http drains after answering). Before, 100 slow bodies
// held 610 MB and were never closed.
func TestSlowBodiesAreCut(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runDaemon(t, dir, pushNodeConfig(dir, "mcp_server = true\nrequest_body_timeout = 1"), io.Discard)
	for _, route := range []string{"POST /reporter/web/push/", "POST /manager/announcement/", "POST /mcp/probes", "GET /"} {
		method, path, _ := strings.Cut(route, " ")
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: vigil\r\nAuthorization: Basic OnI=\r\nContent-Type: application/json\r\n"+
			"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{\"replica\":", method, path)
		// Far past the timeout: a server without it keeps waiting for the
		// other 989 bytes.
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err = io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection of a body that never ends is still open after 15 s", route)
		}
	}
}

// TestConnectionCap: beyond max_connections, a new connection waits until
// one closes; then it is served.
func TestConnectionCap(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runDaemon(t, dir, pushNodeConfig(dir, "max_connections = 2"), io.Discard)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	c, err := net.Dial("tcp", addr.String()) // the kernel queues it
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /status/text HTTP/1.1\r\nHost: vigil\r\n\r\n")
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(time.Second))
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("a third connection was served with two held and max_connections = 2: %q", line)
	}
	held[0].Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Errorf("once a held connection closed, the waiting one got %q, %v; want 200", line, err)
	}
}

// TestConnectionLimitDefault: without max_connections, the cap is half
// the open-file limit, leaving the rest to the probes and the store.
func TestConnectionLimitDefault(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if got := connectionLimit(0); rl.Cur < 1<<40 && uint64(got) != rl.Cur/2 {
		t.Errorf("connectionLimit(0) = %d with an open-file limit of %d, want %d", got, rl.Cur, rl.Cur/2)
	}
	if got := connectionLimit(7); got != 7 {
		t.Errorf("connectionLimit(7) = %d, want 7", got)
	}
}

// failingListener fails its first Accept as a process out of file
// descriptors does, then is closed.
type failingListener struct {
	net.Listener
	calls int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.calls++
	if l.calls == 1 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return nil, net.ErrClosed
}

// TestAcceptErrorsAreWarnings: an accept error (running out of file
// descriptors) is logged at warn; net/http alone retries it silently. The
// end of the listener at shutdown is not an error.
func TestAcceptErrorsAreWarnings(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs bytes.Buffer
	l := limitListener(&failingListener{Listener: ln}, 4, slog.New(slog.NewTextHandler(&logs, nil)))
	for range 2 {
		if _, err := l.Accept(); err == nil {
			t.Fatal("Accept succeeded")
		}
	}
	if got := logs.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "too many open files") {
		t.Errorf("logs = %q, want one warning with the cause", got)
	}
}

// TestMCPOutlivesTheBodyTimeout: the body deadline ends with the body: an
// MCP session, with its event stream open, keeps working long past
// request_body_timeout.
func TestMCPOutlivesTheBodyTimeout(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runDaemon(t, dir, pushNodeConfig(dir, "mcp_server = true\nrequest_body_timeout = 1"), io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "vigil-test", Version: "v0"}, nil)
	streams := &streamCounter{}
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr.String() + "/mcp/probes",
		HTTPClient: &http.Client{Transport: streams}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	time.Sleep(2500 * time.Millisecond) // past the body timeout, twice
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_report", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Errorf("get_report after the body timeout = %+v, %v; want the report", res, err)
	}
	if n := streams.gets.Load(); n != 1 {
		t.Errorf("the client opened %d event streams, want 1 that stayed open", n)
	}
}

// streamCounter counts the event streams (GET) a client opens.
type streamCounter struct{ gets atomic.Int64 }

func (s *streamCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		s.gets.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}
