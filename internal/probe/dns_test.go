package probe

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vigil-go/vigil/internal/status"
)

// dnsServe serves h with miekg/dns's own server on the packet conn or the
// listener given (one of the two) until the test ends.
func dnsServe(t *testing.T, pc net.PacketConn, ln net.Listener, h dns.HandlerFunc) {
	t.Helper()
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Listener: ln, Handler: h, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ActivateAndServe()
	}()
	select {
	case <-started:
	case <-done:
		t.Fatal("the DNS server did not start")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
}

// dnsUDP starts a loopback DNS server over UDP and returns its port.
func dnsUDP(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dnsServe(t, pc, nil, h)
	return portOf(pc.LocalAddr())
}

// dnsUDPAndTCP starts loopback DNS servers over UDP and TCP on one port, as
// a resolver listens, and returns the port.
func dnsUDPAndTCP(t *testing.T, udp, tcp dns.HandlerFunc) string {
	t.Helper()
	// The UDP port is chosen by the system; its TCP twin may be taken.
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := portOf(pc.LocalAddr())
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			pc.Close()
			continue
		}
		dnsServe(t, pc, nil, udp)
		dnsServe(t, nil, ln, tcp)
		return port
	}
	t.Fatal("no port free for both UDP and TCP")
	return ""
}

// silentUDP returns the port of a UDP socket that receives queries and
// never answers, as a resolver behind a dropping firewall looks.
func silentUDP(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return portOf(pc.LocalAddr())
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// reply answers every query with rcode and the records given in zone-file
// form, whatever the question.
func reply(t *testing.T, rcode int, records ...string) dns.HandlerFunc {
	t.Helper()
	var answer []dns.RR
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("record %q: %v", s, err)
		}
		answer = append(answer, rr)
	}
	return func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetRcode(req, rcode)
		m.Answer = answer
		w.WriteMsg(m)
	}
}

func TestDNS(t *testing.T) {
	for _, tt := range []struct {
		name    string
		typ     string // "" means A
		expect  string
		rcode   int
		records []string
		want    status.Health
		reason  string // after "DNS <type> example.com @127.0.0.1:<port>: "
	}{
		{name: "A", records: []string{"example.com. 60 IN A 192.0.2.1"}, want: status.Healthy},
		{
			name: "A, expect matches the second answer", expect: `^10\.`,
			records: []string{"example.com. 60 IN A 192.0.2.1", "example.com. 60 IN A 10.0.0.7"}, want: status.Healthy,
		},
		{
			name: "A, expect matches none", expect: `^10\.`,
			records: []string{"example.com. 60 IN A 1.2.3.4", "example.com. 60 IN A 5.6.7.8"},
			want:    status.Dead, reason: `answers 1.2.3.4, 5.6.7.8; none matches ^10\.`,
		},
		{
			name: "A, expect does not match the only answer", expect: `^10\.`,
			records: []string{"example.com. 60 IN A 1.2.3.4"},
			want:    status.Dead, reason: `answer 1.2.3.4 does not match ^10\.`,
		},
		{
			name: "A, many answers listed in part", expect: `^10\.`,
			records: []string{
				"example.com. 60 IN A 192.0.2.1", "example.com. 60 IN A 192.0.2.2", "example.com. 60 IN A 192.0.2.3",
				"example.com. 60 IN A 192.0.2.4", "example.com. 60 IN A 192.0.2.5",
			},
			want: status.Dead, reason: `answers 192.0.2.1, 192.0.2.2, 192.0.2.3 and 2 more; none matches ^10\.`,
		},
		{name: "NXDOMAIN", rcode: dns.RcodeNameError, want: status.Dead, reason: "NXDOMAIN"},
		{name: "SERVFAIL", rcode: dns.RcodeServerFailure, want: status.Dead, reason: "SERVFAIL"},
		{
			name: "rcode with records still dead", rcode: dns.RcodeRefused,
			records: []string{"example.com. 60 IN A 192.0.2.1"}, want: status.Dead, reason: "REFUSED",
		},
		{name: "no answer", want: status.Dead, reason: "no A record in the answer"},
		{
			name: "only a CNAME for an A query", records: []string{"example.com. 60 IN CNAME web.example.net."},
			want: status.Dead, reason: "no A record in the answer (CNAME web.example.net.)",
		},
		{
			name: "CNAME chain ending in A", expect: `^192\.0\.2\.9$`,
			records: []string{"example.com. 60 IN CNAME web.example.net.", "web.example.net. 60 IN A 192.0.2.9"},
			want:    status.Healthy,
		},
		{
			name: "CNAME target does not count as a value", expect: `example`,
			records: []string{"example.com. 60 IN CNAME web.example.net.", "web.example.net. 60 IN A 192.0.2.9"},
			want:    status.Dead, reason: "answer 192.0.2.9 does not match example",
		},
		{
			name: "CNAME query", typ: "CNAME", expect: `^web\.example\.net\.$`,
			records: []string{"example.com. 60 IN CNAME web.example.net."}, want: status.Healthy,
		},
		{
			name: "AAAA", typ: "AAAA", expect: `^2001:db8::1$`,
			records: []string{"example.com. 60 IN AAAA 2001:db8:0:0::1"}, want: status.Healthy,
		},
		{
			name: "AAAA asked, only A answered", typ: "AAAA",
			records: []string{"example.com. 60 IN A 192.0.2.1"},
			want:    status.Dead, reason: "no AAAA record in the answer (A 192.0.2.1)",
		},
		{
			name: "MX matches", typ: "MX", expect: `^10 mx1\.example\.com\.$`,
			records: []string{"example.com. 60 IN MX 20 mx2.example.com.", "example.com. 60 IN MX 10 mx1.example.com."},
			want:    status.Healthy,
		},
		{
			name: "MX does not match", typ: "MX", expect: `^5 `,
			records: []string{"example.com. 60 IN MX 20 mx2.example.com.", "example.com. 60 IN MX 10 mx1.example.com."},
			want:    status.Dead, reason: "answers 20 mx2.example.com., 10 mx1.example.com.; none matches ^5 ",
		},
		{
			name: "TXT strings joined", typ: "TXT", expect: `^v=spf1 include:_spf\.example\.net -all$`,
			records: []string{`example.com. 60 IN TXT "v=spf1 include:_spf.example.net" " -all"`},
			want:    status.Healthy,
		},
		{
			name: "TXT with quotes and UTF-8, unescaped", typ: "TXT", expect: `^say "héllo"$`,
			records: []string{`example.com. 60 IN TXT "say \"h\195\169llo\""`},
			want:    status.Healthy,
		},
		{
			name: "TXT does not match", typ: "TXT", expect: `^google-site-verification=`,
			records: []string{`example.com. 60 IN TXT "v=spf1 -all"`},
			want:    status.Dead, reason: "answer v=spf1 -all does not match ^google-site-verification=",
		},
		{
			name: "SRV", typ: "SRV", expect: `^10 60 5060 sip\.example\.com\.$`,
			records: []string{"example.com. 60 IN SRV 10 60 5060 sip.example.com."}, want: status.Healthy,
		},
		{
			name: "CAA, presentation form", typ: "CAA", expect: `^0 issue "letsencrypt\.org"$`,
			records: []string{`example.com. 60 IN CAA 0 issue "letsencrypt.org"`}, want: status.Healthy,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			if typ == "" {
				typ = "A"
			}
			port := dnsUDP(t, reply(t, tt.rcode, tt.records...))
			d := &DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: typ, Timeout: 5 * time.Second}
			if tt.expect != "" {
				d.Expect = regexp.MustCompile(tt.expect)
			}
			got := d.Probe(context.Background())
			if got.Health != tt.want {
				t.Fatalf("Probe() = %+v, want %v", got, tt.want)
			}
			want := ""
			if tt.reason != "" {
				want = "DNS " + typ + " example.com @127.0.0.1:" + port + ": " + tt.reason
			}
			if got.Reason != want {
				t.Errorf("Reason = %q, want %q", got.Reason, want)
			}
			if got.Latency <= 0 || got.Latency > time.Second {
				t.Errorf("Latency = %v, want the round trip", got.Latency)
			}
		})
	}
}

// TestDNSQuery checks what goes on the wire: one fully qualified question of
// the asked type and class IN, recursion desired.
func TestDNSQuery(t *testing.T) {
	var mu sync.Mutex
	var got []*dns.Msg
	answer := reply(t, dns.RcodeSuccess, "example.com. 60 IN MX 10 mx.example.com.")
	port := dnsUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		got = append(got, req.Copy())
		mu.Unlock()
		answer(w, req)
	})
	r := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "MX", Timeout: 5 * time.Second}).Probe(context.Background())
	if r.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the server received %d queries, want 1", len(got))
	}
	q := got[0]
	if !q.RecursionDesired {
		t.Error("recursion desired is not set")
	}
	if len(q.Question) != 1 || q.Question[0] != (dns.Question{Name: "example.com.", Qtype: dns.TypeMX, Qclass: dns.ClassINET}) {
		t.Errorf("question = %v, want example.com. IN MX", q.Question)
	}
}

func TestDNSValue(t *testing.T) {
	for _, tt := range []struct{ record, want string }{
		{"x. 60 IN A 192.0.2.1", "192.0.2.1"},
		{"x. 60 IN AAAA 2001:db8::1", "2001:db8::1"},
		{"x. 60 IN CNAME y.example.", "y.example."},
		{"x. 60 IN NS ns1.example.", "ns1.example."},
		{"1.2.0.192.in-addr.arpa. 60 IN PTR host.example.", "host.example."},
		{"x. 60 IN MX 10 mx.example.", "10 mx.example."},
		{`x. 60 IN TXT "a b" "c"`, "a bc"},
		{`x. 60 IN TXT "back\\slash"`, `back\slash`},
		{"x. 60 IN SRV 1 2 3 t.example.", "1 2 3 t.example."},
		{"x. 60 IN SOA ns.example. admin.example. 2024010101 7200 3600 1209600 300", "ns.example. admin.example. 2024010101 7200 3600 1209600 300"},
		{`x. 60 IN CAA 128 issuewild ";"`, `128 issuewild ";"`},
	} {
		rr, err := dns.NewRR(tt.record)
		if err != nil {
			t.Fatalf("record %q: %v", tt.record, err)
		}
		if got := dnsValue(rr); got != tt.want {
			t.Errorf("dnsValue(%s) = %q, want %q", tt.record, got, tt.want)
		}
	}
}

func TestDNSLongValueShortened(t *testing.T) {
	key := strings.Repeat("k", 300)
	port := dnsUDP(t, reply(t, dns.RcodeSuccess, `example.com. 60 IN TXT "v=DKIM1; p=`+key+`"`))
	d := &DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "TXT", Expect: regexp.MustCompile(`^v=DKIM1; p=MII`), Timeout: 5 * time.Second}
	got := d.Probe(context.Background())
	want := "DNS TXT example.com @127.0.0.1:" + port + ": answer v=DKIM1; p=" + strings.Repeat("k", 52) + "… does not match ^v=DKIM1; p=MII"
	if got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

// TestDNSTruncated: a truncated UDP answer is asked again over TCP, and the
// TCP answer is the one judged.
func TestDNSTruncated(t *testing.T) {
	var udpQueries, tcpQueries atomic.Int32
	tcpAnswer := reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1", "example.com. 60 IN A 10.0.0.1")
	truncated := func(w dns.ResponseWriter, req *dns.Msg) {
		udpQueries.Add(1)
		m := new(dns.Msg).SetReply(req)
		m.Truncated = true
		w.WriteMsg(m)
	}
	port := dnsUDPAndTCP(t, truncated, func(w dns.ResponseWriter, req *dns.Msg) {
		tcpQueries.Add(1)
		tcpAnswer(w, req)
	})
	d := &DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Expect: regexp.MustCompile(`^10\.`), Timeout: 5 * time.Second}
	got := d.Probe(context.Background())
	if got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if u, c := udpQueries.Load(), tcpQueries.Load(); u != 1 || c != 1 {
		t.Errorf("queries: %d over UDP, %d over TCP, want 1 and 1", u, c)
	}
}

func TestDNSTruncatedNoTCP(t *testing.T) {
	port := dnsUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		m.Truncated = true
		w.WriteMsg(m)
	})
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second}).Probe(context.Background())
	want := "DNS A example.com @127.0.0.1:" + port + ": UDP answer truncated; over TCP: connection refused"
	if got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

// TestDNSNoTCPWithoutTruncation: a whole UDP answer is final, so a resolver
// without TCP is healthy.
func TestDNSNoTCPWithoutTruncation(t *testing.T) {
	port := dnsUDP(t, reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1"))
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second}).Probe(context.Background())
	if got.Health != status.Healthy {
		t.Errorf("Probe() = %+v, want healthy", got)
	}
}

func TestDNSTimeout(t *testing.T) {
	port := silentUDP(t)
	const timeout = 300 * time.Millisecond
	start := time.Now()
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: timeout}).Probe(context.Background())
	elapsed := time.Since(start)
	want := "DNS A example.com @127.0.0.1:" + port + ": timeout after 300ms"
	if got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
	if elapsed < timeout || elapsed > timeout+500*time.Millisecond {
		t.Errorf("Probe took %v, want about %v", elapsed, timeout)
	}
	if got.Latency < timeout-50*time.Millisecond || got.Latency > elapsed {
		t.Errorf("Latency = %v, want the time spent (about %v)", got.Latency, timeout)
	}
}

// TestDNSCanceled: the caller giving up ends the exchange at once, with or
// without a Timeout of the probe's own (the library watches deadlines only).
func TestDNSCanceled(t *testing.T) {
	for _, timeout := range []time.Duration{10 * time.Second, 0} {
		port := silentUDP(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		result := make(chan Result, 1)
		go func() {
			result <- (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: timeout}).Probe(ctx)
		}()
		var got Result
		select {
		case got = <-result:
		case <-time.After(500 * time.Millisecond):
			// Without a Timeout nothing else would ever end it.
			t.Fatalf("Timeout %v: Probe still running 450ms after the cancel", timeout)
		}
		cancel()
		want := "DNS A example.com @127.0.0.1:" + port + ": canceled"
		if got.Health != status.Dead || got.Reason != want {
			t.Errorf("Timeout %v: Probe() = %v %q, want dead %q", timeout, got.Health, got.Reason, want)
		}
	}
}

func TestDNSCanceledBefore(t *testing.T) {
	port := dnsUDP(t, reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 10 * time.Second}).Probe(ctx)
	if want := "DNS A example.com @127.0.0.1:" + port + ": canceled"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestDNSRefused(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(pc.LocalAddr())
	pc.Close()
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second}).Probe(context.Background())
	if want := "DNS A example.com @127.0.0.1:" + port + ": connection refused"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestDNSServerByName(t *testing.T) {
	port := dnsUDP(t, reply(t, dns.RcodeNameError))
	got := (&DNS{Server: "localhost", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second}).Probe(context.Background())
	want := "DNS A example.com @localhost:" + port + " (127.0.0.1:" + port + "): NXDOMAIN"
	if got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestDNSServerUnresolvable(t *testing.T) {
	got := (&DNS{Server: "nonexistent.invalid", Port: "53", Name: "example.com", Type: "A", Timeout: 5 * time.Second}).Probe(context.Background())
	if want := "DNS A example.com @nonexistent.invalid:53: lookup nonexistent.invalid"; got.Health != status.Dead || !strings.HasPrefix(got.Reason, want) {
		t.Errorf("Probe() = %v %q, want dead, starting %q", got.Health, got.Reason, want)
	}
}

func TestDNSSourceAddr(t *testing.T) {
	src := loopbackSource(t)
	from := make(chan string, 1)
	answer := reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1")
	port := dnsUDP(t, recordSender(from, answer))
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second, SourceAddr: src}).Probe(context.Background())
	if got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if ip := <-from; ip != src.String() {
		t.Errorf("query came from %s, want %s", ip, src)
	}
}

// TestDNSSourceAddrOverTCP: the retry after a truncation is sent from the
// source address too.
func TestDNSSourceAddrOverTCP(t *testing.T) {
	src := loopbackSource(t)
	from := make(chan string, 1)
	answer := reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1")
	port := dnsUDPAndTCP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		m.Truncated = true
		w.WriteMsg(m)
	}, recordSender(from, answer))
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second, SourceAddr: src}).Probe(context.Background())
	if got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if ip := <-from; ip != src.String() {
		t.Errorf("TCP query came from %s, want %s", ip, src)
	}
}

func TestDNSSourceAddrWrongFamily(t *testing.T) {
	port := dnsUDP(t, reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1"))
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second, SourceAddr: net.IPv6loopback}).Probe(context.Background())
	want := "DNS A example.com @127.0.0.1:" + port + ": source address ::1 cannot reach 127.0.0.1: not the same IP version"
	if got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

// TestDNSLatency: the latency is the round trip, including the server's time.
func TestDNSLatency(t *testing.T) {
	const delay = 100 * time.Millisecond
	answer := reply(t, dns.RcodeSuccess, "example.com. 60 IN A 192.0.2.1")
	port := dnsUDP(t, func(w dns.ResponseWriter, req *dns.Msg) {
		time.Sleep(delay)
		answer(w, req)
	})
	got := (&DNS{Server: "127.0.0.1", Port: port, Name: "example.com", Type: "A", Timeout: 5 * time.Second}).Probe(context.Background())
	if got.Health != status.Healthy || got.Latency < delay || got.Latency > delay+400*time.Millisecond {
		t.Errorf("Probe() = %+v, want healthy with a latency of about %v", got, delay)
	}
}

func TestDNSBadConfig(t *testing.T) {
	for _, tt := range []struct {
		d    DNS
		want string
	}{
		{DNS{Server: "127.0.0.1", Port: "53", Name: "example.com", Type: "ANY"}, `DNS ANY example.com @127.0.0.1:53: record type "ANY" not supported, want A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or CAA`},
		{DNS{Server: "127.0.0.1", Port: "53", Name: "example.com", Type: "a"}, `DNS a example.com @127.0.0.1:53: record type "a" not supported, want A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or CAA`},
		{DNS{Server: "127.0.0.1", Port: "53", Name: strings.Repeat("x", 64) + ".com", Type: "A"}, "DNS A " + strings.Repeat("x", 64) + ".com @127.0.0.1:53: not a valid domain name"},
	} {
		got := tt.d.Probe(context.Background())
		if got.Health != status.Dead || got.Reason != tt.want {
			t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, tt.want)
		}
	}
}

// recordSender hands the IP each query came from to from (the first one
// only), then answers it with next.
func recordSender(from chan<- string, next func(dns.ResponseWriter, *dns.Msg)) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		host, _, _ := net.SplitHostPort(w.RemoteAddr().String())
		select {
		case from <- host:
		default:
		}
		next(w, req)
	}
}
