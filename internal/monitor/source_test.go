package monitor

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
)

// TestProbeSourceAddress checks that server.probe_source_address binds the
// poll probes: a loopback target answers 200 only to probes that come from
// 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback interface).
func TestProbeSourceAddress(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if host != "127.0.0.2" {
			http.Error(w, "from "+host, http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))

	probes := fmt.Sprintf(`
[[probe.service]]
id = "web"
label = "Web"
[[probe.service.node]]
id = "http"
label = "HTTP"
mode = "poll"
replicas = ["http://127.0.0.1:%s/"]
`, port)
	for _, tt := range []struct {
		source string
		want   status.Health
	}{
		{"127.0.0.2", status.Healthy},
		{"127.0.0.3", status.Dead},
	} {
		t.Run(tt.source, func(t *testing.T) {
			m := newMonitor(t, probes)
			m.cfg.Load().Server.ProbeSourceAddress = tt.source
			m = New(Options{Config: m.cfg.Load(), Logger: m.log})
			run(t, m)
			s := waitFor(t, m, "the HTTP replica checked", func(s *status.Snapshot) bool {
				_, n := s.Find("web", "http")
				return !n.Replicas[0].Checked.IsZero()
			})
			_, n := s.Find("web", "http")
			if got := n.Replicas[0].Health; got != tt.want {
				t.Errorf("HTTP replica probed from %s: %v (%s), want %v", tt.source, got, n.Replicas[0].Reason, tt.want)
			}
		})
	}
}
