package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"

	"github.com/vigil-go/vigil/internal/status"
)

// needICMP skips a test when this process may open no ICMP socket at all
// (neither root nor CAP_NET_RAW nor a matching ping_group_range).
func needICMP(t *testing.T) {
	t.Helper()
	if err := ICMPAvailable(); err != nil {
		t.Skipf("ICMP is not available here: %v", err)
	}
}

func TestICMPAvailable(t *testing.T) {
	err := ICMPAvailable()
	if err != nil && !errors.Is(err, ErrICMPNotPermitted) {
		t.Errorf("ICMPAvailable() = %v, want nil or ErrICMPNotPermitted", err)
	}
	if err != nil && err.Error() != "icmp: "+ErrICMPNotPermitted.Error() {
		t.Errorf("ICMPAvailable() = %q, want the permission message", err)
	}
}

func TestICMPLoopback(t *testing.T) {
	needICMP(t)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		got := ICMP{Host: host, Timeout: 10 * time.Second}.Probe(context.Background())
		if got.Health != status.Healthy || got.Reason != "" {
			t.Errorf("ICMP{Host: %q}.Probe() = %+v, want healthy", host, got)
		}
		if got.Latency <= 0 {
			t.Errorf("ICMP{Host: %q}.Probe() latency = %v, want the round trip, > 0", host, got.Latency)
		}
	}
}

// recordingPinger passes the echoes on to the system's pinger and keeps what
// it asked and saw, so a test against a real target can check the counts.
type recordingPinger struct {
	asked []Echoes
	got   []Replies
}

func (r *recordingPinger) Ping(ctx context.Context, ip net.IPAddr, e Echoes) (Replies, error) {
	got, err := systemPinger{}.Ping(ctx, ip, e)
	r.asked, r.got = append(r.asked, e), append(r.got, got)
	return got, err
}

// icmpSocketKind says which kind of ICMP socket this process may open, for
// the log of tests against a real target.
func icmpSocketKind() string {
	if c, err := icmp.ListenPacket("udp4", "0.0.0.0"); err == nil {
		c.Close()
		return "unprivileged ping sockets"
	}
	return "raw sockets (net.ipv4.ping_group_range excludes this process)"
}

func TestICMPLoopbackCount(t *testing.T) {
	needICMP(t)
	t.Logf("pinging over %s", icmpSocketKind())
	rec := &recordingPinger{}
	p := ICMP{Host: "127.0.0.1", Count: 5, LossDeadAbove: 0.2, LossSickAbove: 0.1, Timeout: 10 * time.Second, Pinger: rec}
	got := p.Probe(context.Background())
	if got.Health != status.Healthy || got.Reason != "" {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if len(rec.got) != 1 || rec.got[0].Sent != 5 || rec.got[0].Received != 5 {
		t.Fatalf("replies = %+v, want one address, 5 sent, 5 received", rec.got)
	}
	if want := (Echoes{Count: 5, Interval: 100 * time.Millisecond, Wait: time.Second}); !reflect.DeepEqual(rec.asked[0], want) {
		t.Errorf("asked %+v, want %+v", rec.asked[0], want)
	}
	if got.Latency != rec.got[0].AvgRTT || got.Latency <= 0 {
		t.Errorf("Latency = %v, want the average round trip %v, > 0", got.Latency, rec.got[0].AvgRTT)
	}
}

func TestICMPNoReplyCount(t *testing.T) {
	needICMP(t)
	got := ICMP{Host: "203.0.113.1", Count: 3, LossDeadAbove: 0.5, Timeout: 600 * time.Millisecond}.Probe(context.Background())
	if got.Health != status.Dead || !strings.HasPrefix(got.Reason, "ping 203.0.113.1: ") {
		t.Errorf("Probe() = %v %q, want dead with a reason about 203.0.113.1", got.Health, got.Reason)
	}
	t.Logf("reason: %s", got.Reason) // "3/3 lost", or an unreachable network
}

// fakePinger answers as told, for losses a loopback target never has.
type fakePinger struct {
	received int
	avg      time.Duration
	block    bool // wait for ctx to end, having sent every echo
	asked    []Echoes
}

func (f *fakePinger) Ping(ctx context.Context, ip net.IPAddr, e Echoes) (Replies, error) {
	f.asked = append(f.asked, e)
	got := Replies{Sent: e.Count, Received: f.received, AvgRTT: f.avg}
	if f.block {
		<-ctx.Done()
		return got, ctx.Err()
	}
	return got, nil
}

func TestICMPLoss(t *testing.T) {
	const rtt = 12 * time.Millisecond
	for _, tt := range []struct {
		name             string
		count, received  int
		deadAbove, above float64 // above: LossSickAbove
		want             status.Health
		wantReason       string // after "ping 127.0.0.1: "
	}{
		{name: "2 of 5 lost at 0.2 is dead", count: 5, received: 3, deadAbove: 0.2, above: 0.1, want: status.Dead, wantReason: "2/5 lost, rtt avg 12ms"},
		{name: "1 of 5 lost at 0.2 dead, 0.1 sick is sick", count: 5, received: 4, deadAbove: 0.2, above: 0.1, want: status.Sick, wantReason: "1/5 lost, rtt avg 12ms"},
		{name: "1 of 5 lost at 0.2 dead, 0.2 sick is healthy", count: 5, received: 4, deadAbove: 0.2, above: 0.2, want: status.Healthy},
		{name: "none lost is healthy", count: 5, received: 5, deadAbove: 0.2, above: 0.1, want: status.Healthy},
		{name: "any loss is dead by default", count: 5, received: 4, want: status.Dead, wantReason: "1/5 lost, rtt avg 12ms"},
		{name: "config defaults 0 and 1: any loss is dead", count: 5, received: 4, deadAbove: 0, above: 1, want: status.Dead, wantReason: "1/5 lost, rtt avg 12ms"},
		{name: "all lost", count: 5, received: 0, deadAbove: 0.5, want: status.Dead, wantReason: "5/5 lost"},
		{name: "count 1 answered", count: 1, received: 1, want: status.Healthy},
		{name: "count 1 lost, as Vigil", count: 1, received: 0, want: status.Dead, wantReason: "no reply within 1s"},
		{name: "count 0 means 1", count: 0, received: 0, want: status.Dead, wantReason: "no reply within 1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePinger{received: tt.received, avg: rtt}
			if tt.received == 0 {
				f.avg = 0
			}
			p := ICMP{Host: "127.0.0.1", Count: tt.count, LossDeadAbove: tt.deadAbove, LossSickAbove: tt.above, Timeout: 10 * time.Second, Pinger: f}
			got := p.Probe(context.Background())
			if got.Health != tt.want {
				t.Errorf("Health = %v (%q), want %v", got.Health, got.Reason, tt.want)
			}
			wantReason := ""
			if tt.wantReason != "" {
				wantReason = "ping 127.0.0.1: " + tt.wantReason
			}
			if got.Reason != wantReason {
				t.Errorf("Reason = %q, want %q", got.Reason, wantReason)
			}
			if tt.want != status.Dead && got.Latency != rtt {
				t.Errorf("Latency = %v, want the average round trip %v", got.Latency, rtt)
			}
			if len(f.asked) != 1 || f.asked[0].Count != max(tt.count, 1) {
				t.Errorf("asked %+v, want one address, %d echoes", f.asked, max(tt.count, 1))
			}
		})
	}
}

// The average round trip is the latency the sick-latency policy judges.
func TestICMPSlowIsSick(t *testing.T) {
	p := ICMP{Host: "127.0.0.1", Count: 5, Timeout: 10 * time.Second, Pinger: &fakePinger{received: 5, avg: 12 * time.Millisecond}}
	got := Policy{SickAfter: 10 * time.Millisecond}.Run(context.Background(), p)
	if want := "slow: 12ms, sick from 10ms"; got.Health != status.Sick || got.Reason != want {
		t.Errorf("Run() = %v %q, want sick %q", got.Health, got.Reason, want)
	}
}

func TestICMPEchoPlan(t *testing.T) {
	for _, tt := range []struct {
		count          int
		timeout        time.Duration
		interval, wait time.Duration
	}{
		{count: 1, timeout: 10 * time.Second, interval: time.Second, wait: time.Second}, // Vigil's single echo
		{count: 1, timeout: 300 * time.Millisecond, interval: 300 * time.Millisecond, wait: 300 * time.Millisecond},
		{count: 1, timeout: 0, interval: time.Second, wait: time.Second},
		{count: 5, timeout: 10 * time.Second, interval: 100 * time.Millisecond, wait: time.Second},
		{count: 5, timeout: 0, interval: 100 * time.Millisecond, wait: time.Second},
		// Sending takes at most half the timeout, the last echo waits for the rest.
		{count: 5, timeout: time.Second, interval: 100 * time.Millisecond, wait: 600 * time.Millisecond},
		{count: 100, timeout: 10 * time.Second, interval: 50 * time.Millisecond, wait: time.Second},
		{count: 100, timeout: 2 * time.Second, interval: 10 * time.Millisecond, wait: time.Second},
	} {
		got := ICMP{Count: tt.count, Timeout: tt.timeout}.echoes()
		if got.Count != tt.count || got.Interval != tt.interval || got.Wait != tt.wait {
			t.Errorf("count %d, timeout %v: %+v, want interval %v, wait %v", tt.count, tt.timeout, got, tt.interval, tt.wait)
		}
	}
}

// When the timeout ends the wait after every echo was sent, the missing
// replies are lost rather than the whole check timed out.
func TestICMPTimeoutAfterSending(t *testing.T) {
	p := ICMP{Host: "127.0.0.1", Count: 5, LossDeadAbove: 0.2, LossSickAbove: 0.1, Timeout: 100 * time.Millisecond, Pinger: &fakePinger{received: 4, avg: time.Millisecond, block: true}}
	got := p.Probe(context.Background())
	if want := "ping 127.0.0.1: 1/5 lost, rtt avg 1ms"; got.Health != status.Sick || got.Reason != want {
		t.Errorf("Probe() = %v %q, want sick %q", got.Health, got.Reason, want)
	}
	// Canceled by the caller, it is not judged.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	p.Timeout = 10 * time.Second
	if got := p.Probe(ctx); got.Health != status.Dead || got.Reason != "ping 127.0.0.1: canceled" {
		t.Errorf("canceled: Probe() = %v %q, want dead, canceled", got.Health, got.Reason)
	}
}

func TestICMPNoReply(t *testing.T) {
	needICMP(t)
	// 203.0.113.0/24 is reserved for documentation (RFC 5737): nothing answers.
	got := ICMP{Host: "203.0.113.1", Timeout: 300 * time.Millisecond}.Probe(context.Background())
	if got.Health != status.Dead || !strings.HasPrefix(got.Reason, "ping 203.0.113.1: ") {
		t.Errorf("Probe() = %v %q, want dead with a reason about 203.0.113.1", got.Health, got.Reason)
	}
	t.Logf("reason: %s", got.Reason) // "no reply within 300ms", or an unreachable network
}

func TestICMPUnresolvable(t *testing.T) {
	got := ICMP{Host: "nonexistent.invalid", Timeout: 10 * time.Second}.Probe(context.Background())
	if got.Health != status.Dead || !strings.HasPrefix(got.Reason, "ping nonexistent.invalid: lookup nonexistent.invalid") {
		t.Errorf("Probe() = %v %q, want dead with the lookup error", got.Health, got.Reason)
	}
}

func TestICMPCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := ICMP{Host: "127.0.0.1", Timeout: 10 * time.Second}.Probe(ctx)
	if got.Health != status.Dead || !strings.HasSuffix(got.Reason, ": canceled") {
		t.Errorf("Probe() = %v %q, want dead, canceled", got.Health, got.Reason)
	}
}

func TestPermissionDenied(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		// What the kernel says for an unprivileged ping socket outside
		// ping_group_range, as x/net/icmp returns it.
		{os.NewSyscallError("socket", syscall.EACCES), true},
		// What it says for a raw socket without CAP_NET_RAW, as net returns it.
		{&net.OpError{Op: "listen", Net: "ip4:icmp", Err: os.NewSyscallError("socket", syscall.EPERM)}, true},
		{os.NewSyscallError("socket", syscall.EAFNOSUPPORT), false},
		{&net.OpError{Op: "write", Net: "ip4:icmp", Err: os.NewSyscallError("sendto", syscall.ENETUNREACH)}, false},
		{errors.New("permission denied"), false}, // only real errnos count
	} {
		if got := permissionDenied(tt.err); got != tt.want {
			t.Errorf("permissionDenied(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
