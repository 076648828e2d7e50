package probe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// listen starts a TCP listener on loopback that hands each connection to
// handle (nil: close it at once) until the test ends.
func listen(t *testing.T, handle func(net.Conn)) (host, port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if handle == nil {
				c.Close()
				continue
			}
			go handle(c)
		}
	}()
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port
}

func TestTCP(t *testing.T) {
	host, port := listen(t, nil)
	_, closed, _ := net.SplitHostPort(closedPort(t))
	for _, tt := range []struct {
		name       string
		tcp        TCP
		want       status.Health
		wantReason string
	}{
		{name: "listening", tcp: TCP{Host: host, Port: port}, want: status.Healthy},
		{name: "by name", tcp: TCP{Host: "localhost", Port: port}, want: status.Healthy},
		{
			name: "refused", tcp: TCP{Host: "127.0.0.1", Port: closed}, want: status.Dead,
			wantReason: "connect tcp 127.0.0.1:" + closed + ": connection refused",
		},
		{
			name: "refused, by name", tcp: TCP{Host: "localhost", Port: closed}, want: status.Dead,
			wantReason: "connect tcp localhost:" + closed + " (127.0.0.1:" + closed + "): connection refused",
		},
		{
			name: "source address of the wrong family", tcp: TCP{Host: host, Port: port, SourceAddr: net.IPv6loopback}, want: status.Dead,
			wantReason: "connect tcp 127.0.0.1:" + port + ": source address ::1 cannot reach 127.0.0.1: not the same IP version",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.tcp.Timeout = 10 * time.Second
			got := tt.tcp.Probe(context.Background())
			if got.Health != tt.want {
				t.Fatalf("Probe() = %+v, want %v", got, tt.want)
			}
			if got.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", got.Reason, tt.wantReason)
			}
		})
	}
}

func TestTCPUnresolvable(t *testing.T) {
	got := TCP{Host: "nonexistent.invalid", Port: "80", Timeout: 10 * time.Second}.Probe(context.Background())
	if got.Health != status.Dead || !strings.HasPrefix(got.Reason, "connect tcp nonexistent.invalid:80: lookup nonexistent.invalid") {
		t.Errorf("Probe() = %v %q, want dead with the lookup error", got.Health, got.Reason)
	}
}

func TestTCPSourceAddr(t *testing.T) {
	src := loopbackSource(t)
	from := make(chan string, 1)
	host, port := listen(t, func(c net.Conn) {
		from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	})
	got := TCP{Host: host, Port: port, Timeout: 10 * time.Second, SourceAddr: src}.Probe(context.Background())
	if got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if ip := <-from; ip != src.String() {
		t.Errorf("connection came from %s, want %s", ip, src)
	}
}

func TestTCPCanceled(t *testing.T) {
	host, port := listen(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := TCP{Host: host, Port: port, Timeout: 10 * time.Second}.Probe(ctx)
	if want := "connect tcp " + host + ":" + port + ": canceled"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}
