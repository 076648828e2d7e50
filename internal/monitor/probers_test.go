package monitor

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// TestCheckKinds runs the check kinds Vigil lacks through the monitor, from
// the config keys to the replica's status: tcp_send and tcp_expect against a
// PING/PONG server, a tls:// replica whose certificate no system root
// signed, and a dns:// replica against a resolver on loopback whose answer
// must match dns_expect.
func TestCheckKinds(t *testing.T) {
	pong := listenTCP(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 64)
		if n, _ := c.Read(buf); string(buf[:n]) == "PING\r\n" {
			io.WriteString(c, "+PONG\r\n")
		} else {
			io.WriteString(c, "-ERR\r\n")
		}
	})
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the probe's refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	resolver := serveDNS(t, map[string]string{"api.internal.": "10.0.0.7", "www.example.": "203.0.113.9"})

	probes := fmt.Sprintf(`
[[probe.service]]
id = "infra"
label = "Infra"

[[probe.service.node]]
id = "cache"
label = "Cache"
mode = "poll"
replicas = ["tcp://%[1]s"]
tcp_send = "PING\r\n"
tcp_expect = '^\+PONG'

[[probe.service.node]]
id = "wrong"
label = "Wrong"
mode = "poll"
replicas = ["tcp://%[1]s"]
tcp_send = "HELLO\r\n"
tcp_expect = '^\+PONG'

[[probe.service.node]]
id = "cert"
label = "Certificate"
mode = "poll"
replicas = ["tls://%[2]s"]

[[probe.service.node]]
id = "names"
label = "Names"
mode = "poll"
replicas = ["dns://%[3]s/api.internal", "dns://%[3]s/www.example"]
dns_expect = '^10\.'
`, pong, strings.TrimPrefix(tlsSrv.URL, "https://"), resolver)
	m := newMonitor(t, probes)
	run(t, m)
	s := waitFor(t, m, "every replica checked", (*status.Snapshot).AllChecked)
	for _, tt := range []struct {
		node   string
		i      int
		want   status.Health
		reason string // a part of it
	}{
		{"cache", 0, status.Healthy, ""},
		{"wrong", 0, status.Dead, `got "-ERR\r\n", want a match of ^\+PONG`},
		{"cert", 0, status.Dead, "certificate signed by unknown authority"},
		{"names", 0, status.Healthy, ""},
		{"names", 1, status.Dead, "answer 203.0.113.9 does not match ^10\\."},
	} {
		r := replica(s, "infra", tt.node, tt.i)
		if r.Health != tt.want || !strings.Contains(r.Reason, tt.reason) || (tt.reason == "") != (r.Reason == "") {
			t.Errorf("%s[%d] = %v %q, want %v with %q", tt.node, tt.i, r.Health, r.Reason, tt.want, tt.reason)
		}
	}
}

// listenTCP serves handle on a loopback port until the test ends and
// returns its address.
func listenTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// serveDNS answers A queries for the names in a (fully qualified) from a
// resolver on a loopback UDP port, NXDOMAIN for the rest, and returns its
// address.
func serveDNS(t *testing.T, a map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		if ip, ok := a[name]; ok && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(name + " 60 IN A " + ip)
			m.Answer = append(m.Answer, rr)
		} else if !ok {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestNodeStatusRange: a node's own poll_http_status_healthy_* keys apply
// to its replicas only; a site behind a login that answers 401 is up there
// and dead elsewhere.
func TestNodeStatusRange(t *testing.T) {
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer login.Close()
	m := newMonitor(t, fmt.Sprintf(`
[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "admin"
label = "Admin"
mode = "poll"
replicas = ["%[1]s/admin"]
poll_http_status_healthy_below = 402

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["%[1]s/api"]
`, login.URL))
	run(t, m)
	s := waitFor(t, m, "both replicas checked", func(s *status.Snapshot) bool {
		return !replica(s, "web", "admin", 0).Checked.IsZero() && !replica(s, "web", "api", 0).Checked.IsZero()
	})
	if r := replica(s, "web", "admin", 0); r.Health != status.Healthy {
		t.Errorf("admin = %v %q, want healthy: 401 is below its own 402", r.Health, r.Reason)
	}
	if r := replica(s, "web", "api", 0); r.Health != status.Dead || !strings.Contains(r.Reason, "status 401, want 200–399") {
		t.Errorf("api = %v %q, want dead with status 401 against [metrics]' range", r.Health, r.Reason)
	}
}

// TestRedirectsAndICMPKeys wires http_follow_redirects and icmp_count from
// the config: a redirect to a failing page is healthy as Vigil judges it (a
// 302) and dead when followed, naming the final URL; three echoes to
// loopback are healthy.
func TestRedirectsAndICMPKeys(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/down", http.StatusFound) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	m := newMonitor(t, fmt.Sprintf(`
[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "as-vigil"
label = "As Vigil"
mode = "poll"
replicas = ["%[1]s/start"]

[[probe.service.node]]
id = "followed"
label = "Followed"
mode = "poll"
replicas = ["%[1]s/start"]
http_follow_redirects = true

[[probe.service.node]]
id = "ping"
label = "Ping"
mode = "poll"
replicas = ["icmp://127.0.0.1"]
icmp_count = 3
`, srv.URL))
	run(t, m)
	snap := waitFor(t, m, "every replica checked", func(s *status.Snapshot) bool { return s.AllChecked() })
	if r := replica(snap, "web", "as-vigil", 0); r.Health != status.Healthy {
		t.Errorf("redirect not followed: %s %q, want healthy (302 is in 200–399)", r.Health, r.Reason)
	}
	if r := replica(snap, "web", "followed", 0); r.Health != status.Dead || !strings.Contains(r.Reason, "status 503 at "+srv.URL+"/down") {
		t.Errorf("redirect followed: %s %q, want dead naming %s/down", r.Health, r.Reason, srv.URL)
	}
	if r := replica(snap, "web", "ping", 0); r.Health != status.Healthy && !strings.Contains(r.Reason, "not permitted") {
		t.Errorf("three echoes to loopback: %s %q, want healthy", r.Health, r.Reason)
	}
}

// TestEveryKindHasAProber checks the probers table against the config's
// table of check kinds, both ways: a kind the config accepts without a
// prober would report its replicas dead, a prober without a kind is dead
// code.
func TestEveryKindHasAProber(t *testing.T) {
	kinds := config.Kinds()
	for _, k := range kinds {
		if probers[k] == nil {
			t.Errorf("the config accepts %s replicas, but no prober checks them", k)
		}
	}
	for k := range probers {
		if !slices.Contains(kinds, k) {
			t.Errorf("a prober for %s, which the config does not accept", k)
		}
	}
}
