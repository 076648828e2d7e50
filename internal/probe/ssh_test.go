package probe

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigil-go/vigil/internal/status"
)

// sshServer starts an in-process SSH server on loopback with a fresh ed25519
// host key, which refuses every login. It counts authentication attempts.
func sshServer(t *testing.T, kex ...string) (host, port string, auths *atomic.Int32) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	auths = new(atomic.Int32)
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
			return nil, errors.New("no login here")
		},
		AuthLogCallback: func(ssh.ConnMetadata, string, error) { auths.Add(1) },
	}
	cfg.KeyExchanges = kex
	cfg.AddHostKey(signer)
	host, port = listen(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if conn, _, _, err := ssh.NewServerConn(c, cfg); err == nil {
			conn.Close()
		}
	})
	return host, port, auths
}

func TestSSHHealthy(t *testing.T) {
	host, port, auths := sshServer(t)
	got := SSH{Host: host, Port: port, Timeout: 10 * time.Second}.Probe(context.Background())
	if got.Health != status.Healthy || got.Reason != "" {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	if got.Latency <= 0 {
		t.Errorf("Latency = %v, want > 0", got.Latency)
	}
	if n := auths.Load(); n != 0 {
		t.Errorf("the probe made %d authentication attempts, want none", n)
	}
}

func TestSSHOldServer(t *testing.T) {
	// A server that only knows a key exchange the ssh package deems insecure
	// is still an SSH server that is up.
	host, port, _ := sshServer(t, ssh.InsecureKeyExchangeDH1SHA1)
	got := SSH{Host: host, Port: port, Timeout: 10 * time.Second}.Probe(context.Background())
	if got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
}

func TestSSHNotSSH(t *testing.T) {
	garbage, gport := listen(t, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
		c.Close()
	})
	hold := make(chan struct{})
	defer close(hold)
	silent, sport := listen(t, func(c net.Conn) {
		<-hold
		c.Close()
	})
	_, closed, _ := net.SplitHostPort(closedPort(t))

	for _, tt := range []struct {
		name, host, port string
		want             string
	}{
		{"garbage", garbage, gport, "ssh " + garbage + ":" + gport + ": handshake failed: "},
		{"silent", silent, sport, "ssh " + silent + ":" + sport + ": handshake: timeout after 300ms"},
		{"refused", "127.0.0.1", closed, "connect tcp 127.0.0.1:" + closed + ": connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := SSH{Host: tt.host, Port: tt.port, Timeout: 300 * time.Millisecond}.Probe(context.Background())
			if got.Health != status.Dead || !strings.HasPrefix(got.Reason, tt.want) {
				t.Errorf("Probe() = %v %q, want dead, reason starting %q", got.Health, got.Reason, tt.want)
			}
		})
	}
}

func TestSSHCanceled(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	host, port := listen(t, func(c net.Conn) {
		<-hold
		c.Close()
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	got := SSH{Host: host, Port: port, Timeout: time.Minute}.Probe(ctx)
	if want := "ssh " + host + ":" + port + ": handshake: canceled"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}
