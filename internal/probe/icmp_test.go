package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

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
