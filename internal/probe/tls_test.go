package probe

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// tlsServer starts an https test server, whose certificate is for 127.0.0.1,
// ::1, example.com and *.example.com and valid until 2084-01-29 16:00 UTC,
// and returns its address and a pool that trusts the certificate.
func tlsServer(t *testing.T) (host, port string, roots *x509.CertPool, cert *x509.Certificate) {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cert = ts.Certificate()
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	host, port, _ = net.SplitHostPort(ts.Listener.Addr().String())
	return host, port, roots, cert
}

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestTLS(t *testing.T) {
	host, port, roots, cert := tlsServer(t)
	notAfter := cert.NotAfter
	if got := certTime(notAfter); got != "2084-01-29 16:00 UTC" {
		t.Fatalf("test certificate expires %s, the cases below expect 2084-01-29 16:00 UTC", got)
	}
	hp := host + ":" + port
	const window = 14 * 24 * time.Hour
	for _, tt := range []struct {
		name       string
		tls        TLS
		want       status.Health
		wantReason string
	}{
		{name: "valid, real clock", tls: TLS{Host: host, RootCAs: roots, SickBefore: window}, want: status.Healthy},
		{name: "valid, expiry not judged", tls: TLS{Host: host, RootCAs: roots, Now: at(notAfter.Add(-time.Hour))}, want: status.Healthy},
		{name: "expires just outside the window", tls: TLS{Host: host, RootCAs: roots, SickBefore: window, Now: at(notAfter.Add(-window - time.Minute))}, want: status.Healthy},
		{
			name: "expires in days", tls: TLS{Host: host, RootCAs: roots, SickBefore: window, Now: at(notAfter.Add(-9*24*time.Hour - 5*time.Hour))},
			want: status.Sick, wantReason: "TLS " + hp + ": certificate expires in 9 days (2084-01-29 16:00 UTC)",
		},
		{
			name: "expires in a day", tls: TLS{Host: host, RootCAs: roots, SickBefore: window, Now: at(notAfter.Add(-36 * time.Hour))},
			want: status.Sick, wantReason: "TLS " + hp + ": certificate expires in 1 day (2084-01-29 16:00 UTC)",
		},
		{
			name: "expires in hours", tls: TLS{Host: host, RootCAs: roots, SickBefore: window, Now: at(notAfter.Add(-5*time.Hour - 30*time.Minute))},
			want: status.Sick, wantReason: "TLS " + hp + ": certificate expires in 5 hours (2084-01-29 16:00 UTC)",
		},
		{
			name: "expires within the hour", tls: TLS{Host: host, RootCAs: roots, SickBefore: window, Now: at(notAfter.Add(-10 * time.Minute))},
			want: status.Sick, wantReason: "TLS " + hp + ": certificate expires in less than an hour (2084-01-29 16:00 UTC)",
		},
		{
			name: "expired", tls: TLS{Host: host, RootCAs: roots, SickBefore: window, Now: at(notAfter.Add(time.Hour))},
			want: status.Dead, wantReason: "TLS " + hp + ": certificate has expired (not after 2084-01-29 16:00 UTC)",
		},
		{
			name: "expired, expiry not judged", tls: TLS{Host: host, RootCAs: roots, Now: at(notAfter.Add(time.Hour))},
			want: status.Dead, wantReason: "TLS " + hp + ": certificate has expired (not after 2084-01-29 16:00 UTC)",
		},
		{
			name: "not valid yet", tls: TLS{Host: host, RootCAs: roots, Now: at(cert.NotBefore.Add(-time.Hour))},
			want: status.Dead, wantReason: "TLS " + hp + ": certificate is not valid yet (not before 1970-01-01 00:00 UTC)",
		},
		{
			name: "name not in the certificate", tls: TLS{Host: "localhost", RootCAs: roots},
			want:       status.Dead,
			wantReason: "TLS localhost:" + port + " (" + hp + "): certificate is valid for example.com, *.example.com, not localhost",
		},
		{
			name: "system roots", tls: TLS{Host: host},
			want: status.Dead, wantReason: "TLS " + hp + `: certificate signed by unknown authority "O=Acme Co" (self-signed)`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.tls.Port = port
			tt.tls.Timeout = 10 * time.Second
			got := tt.tls.Probe(context.Background())
			if got.Health != tt.want {
				t.Fatalf("Probe() = %+v, want %v", got, tt.want)
			}
			if got.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", got.Reason, tt.wantReason)
			}
			if got.Latency <= 0 {
				t.Errorf("Latency = %v, want > 0", got.Latency)
			}
		})
	}
}

func TestTLSConnectFails(t *testing.T) {
	_, closed, _ := net.SplitHostPort(closedPort(t))
	// The server reads the client's hello before it hangs up: closing with
	// the hello unread would reset the connection instead.
	hangUp, hangUpPort := listen(t, func(c net.Conn) {
		defer c.Close()
		header := make([]byte, 5) // a TLS record header ends with the record's length
		if _, err := io.ReadFull(c, header); err == nil {
			io.CopyN(io.Discard, c, int64(header[3])<<8|int64(header[4]))
		}
	})
	got := (&TLS{Host: "127.0.0.1", Port: closed, Timeout: 10 * time.Second}).Probe(context.Background())
	if want := "connect tcp 127.0.0.1:" + closed + ": connection refused"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("nothing listening: Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
	got = (&TLS{Host: hangUp, Port: hangUpPort, Timeout: 10 * time.Second}).Probe(context.Background())
	if want := "TLS " + hangUp + ":" + hangUpPort + ": handshake: EOF"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("server hangs up: Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestTLSNotTLS(t *testing.T) {
	host, port := listen(t, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		io.Copy(io.Discard, c)
	})
	got := (&TLS{Host: host, Port: port, Timeout: 10 * time.Second}).Probe(context.Background())
	if want := "TLS " + host + ":" + port + ": handshake: first record does not look like a TLS handshake"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestTLSTimeout(t *testing.T) {
	// A server that accepts and then says nothing.
	host, port := listen(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(io.Discard, c)
	})
	start := time.Now()
	got := (&TLS{Host: host, Port: port, Timeout: 300 * time.Millisecond}).Probe(context.Background())
	elapsed := time.Since(start)
	if want := "TLS " + host + ":" + port + ": handshake: timeout after 300ms"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
	if got.Latency < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("Latency = %v, returned after %v; want at least the timeout and soon after it", got.Latency, elapsed)
	}
}

func TestTLSCanceled(t *testing.T) {
	host, port := listen(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(io.Discard, c)
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	got := (&TLS{Host: host, Port: port, Timeout: time.Minute}).Probe(ctx)
	if want := "TLS " + host + ":" + port + ": handshake: canceled"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestTLSSourceAddr(t *testing.T) {
	src := loopbackSource(t)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	from := make(chan string, 1)
	ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		}
	}
	ts.StartTLS()
	defer ts.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	host, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	got := (&TLS{Host: host, Port: port, RootCAs: roots, SourceAddr: src, Timeout: 10 * time.Second}).Probe(context.Background())
	if got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if ip := <-from; ip != src.String() {
		t.Errorf("connection came from %s, want %s", ip, src)
	}
}
