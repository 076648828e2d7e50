package daemon

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
)

// TestStopClosesUnusedConnections: a connection that never sent a request
// (a browser's preconnect) does not hold a graceful stop: net/http alone
// would wait 5 s for its first request.
func TestStopClosesUnusedConnections(t *testing.T) {
	dir := t.TempDir()
	a, stop := runDaemon(t, dir, fmt.Sprintf(`[server]
log_level = "off"
manager_token = "m"
reporter_token = "r"
inet = "127.0.0.1:0"

`+configtest.Branding+`
[storage]
path = %q

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "push"
label = "Push"
mode = "push"
`, filepath.Join(dir, "vigil.db")), io.Discard)
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
