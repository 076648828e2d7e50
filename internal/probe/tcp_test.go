package probe

import (
	"context"
	"io"
	"net"
	"regexp"
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

func TestTCPSendExpect(t *testing.T) {
	// A tiny server in the manner of Redis: it answers each line it reads.
	answer := func(reply func(line string) []string) func(net.Conn) {
		return func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			for _, part := range reply(string(buf[:n])) {
				if _, err := io.WriteString(c, part); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	pong := func(line string) []string {
		if line == "PING\r\n" {
			return []string{"+PO", "NG\r\n"} // in two pieces: read until it matches
		}
		return []string{"-ERR unknown command\r\n"}
	}
	host, redis := listen(t, answer(pong))
	_, banner := listen(t, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, "220 mail.example.com ESMTP\r\n")
		time.Sleep(time.Second) // a server keeps the connection open
	})
	_, silent := listen(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(io.Discard, c) // reads, never answers
	})
	_, stream := listen(t, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, strings.Repeat("x", MaxExpect+10))
	})
	re := regexp.MustCompile
	const timeout = 300 * time.Millisecond
	for _, tt := range []struct {
		name       string
		tcp        TCP
		want       status.Health
		wantReason string
	}{
		{name: "answer matches", tcp: TCP{Host: host, Port: redis, Send: "PING\r\n", Expect: re(`^\+PONG`)}, want: status.Healthy},
		{
			name: "answer does not match", tcp: TCP{Host: host, Port: redis, Send: "PONG\r\n", Expect: re(`^\+PONG`)}, want: status.Dead,
			wantReason: `tcp 127.0.0.1:` + redis + `: got "-ERR unknown command\r\n", want a match of ^\+PONG (the server closed the connection)`,
		},
		{name: "banner, nothing sent", tcp: TCP{Host: host, Port: banner, Expect: re(`^220 `), Timeout: timeout}, want: status.Healthy},
		{name: "send only", tcp: TCP{Host: host, Port: silent, Send: "QUIT\r\n"}, want: status.Healthy},
		{
			name: "no answer", tcp: TCP{Host: host, Port: silent, Send: "PING\r\n", Expect: re(`PONG`), Timeout: timeout}, want: status.Dead,
			wantReason: `tcp 127.0.0.1:` + silent + `: no answer, want a match of PONG (timeout after 300ms)`,
		},
		{
			name: "endless answer", tcp: TCP{Host: host, Port: stream, Expect: re(`^y`), Timeout: 5 * time.Second}, want: status.Dead,
			wantReason: `tcp 127.0.0.1:` + stream + `: got "` + strings.Repeat("x", 80) + `"…, want a match of ^y (read 65536 bytes)`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := tt.tcp.Probe(context.Background())
			if got.Health != tt.want || got.Reason != tt.wantReason {
				t.Errorf("Probe() = %v %q, want %v %q", got.Health, got.Reason, tt.want, tt.wantReason)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("probe took %v", took)
			}
		})
	}

	t.Run("caller gives up", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		got := TCP{Host: host, Port: silent, Send: "PING\r\n", Expect: re(`PONG`), Timeout: 10 * time.Second}.Probe(ctx)
		if got.Health != status.Dead || !strings.HasSuffix(got.Reason, "(context deadline exceeded)") {
			t.Errorf("Probe() = %v %q, want dead with the caller's deadline as the cause", got.Health, got.Reason)
		}
	})
}
