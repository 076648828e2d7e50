package daemon

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestStopClosesUnusedConnections: a connection that never sent a request
// (a browser's preconnect) does not hold a graceful stop: net/http alone
// would wait 5 s for its first request.
func TestStopClosesUnusedConnections(t *testing.T) {
	dir := t.TempDir()
	a, stop := runDaemon(t, dir, pushNodeConfig(dir, ""), io.Discard)
	idle, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(100 * time.Millisecond) // accepted: the server holds it as new

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(shutdownGrace - time.Second):
		t.Fatal("the stop waited for a connection that never sent a request")
	}
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read on the unused connection after the stop = %v, want EOF: closed by the server", err)
	}
}
