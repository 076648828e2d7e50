package probe

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigil-go/vigil/internal/status"
)

// SSH checks that a port speaks SSH (replica URL ssh://host:port): it
// connects to the first resolved address, as TCP does, then runs the SSH
// protocol handshake up to the completed key exchange. It neither
// authenticates nor checks the host key, like Vigil: a server that proves it
// holds a host key is up, whatever it would say to a login.
type SSH struct {
	Host    string        // name or IP literal, without IPv6 brackets
	Port    string        // port number (Vigil has no default 22)
	Timeout time.Duration // poll_delay_dead, covering connect and handshake; ≤ 0: ctx alone bounds the probe
	// SourceAddr is the local IP to connect from; nil lets the system choose.
	SourceAddr net.IP
}

// errKexDone stops the handshake once the key exchange has succeeded; going
// on to authentication would only add round trips and log lines on the target.
var errKexDone = errors.New("key exchange complete")

// Probe connects, exchanges keys and hangs up.
func (s SSH) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, s.Timeout)
	defer cancel()
	start := time.Now()
	conn, addr, err := dialFirst(ctx, s.Host, s.Port, s.SourceAddr)
	if err != nil {
		return dead(time.Since(start), "connect tcp "+target(s.Host, s.Port, addr)+": "+netErrorText(ctx, err, s.Timeout))
	}
	defer conn.Close()

	// The ssh package has no context support: a deadline on the connection
	// bounds the handshake, and ctx ending (timeout or caller) trips it at once.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// The callback runs on the ssh package's key exchange goroutine, and only
	// after the server has signed the exchange with its host key.
	var kexDone atomic.Bool
	cfg := sshClientConfig(func(string, net.Addr, ssh.PublicKey) error {
		kexDone.Store(true)
		return errKexDone
	})
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	latency := time.Since(start)
	if kexDone.Load() {
		return Result{Health: status.Healthy, Latency: latency}
	}
	return dead(latency, "ssh "+target(s.Host, s.Port, addr)+": "+sshErrorText(ctx, err, s.Timeout))
}

// sshClientConfig offers every algorithm the ssh package implements, the
// insecure ones included: nothing secret crosses this connection, and old
// servers (network equipment, legacy hosts) must still be seen as up.
func sshClientConfig(hostKey ssh.HostKeyCallback) *ssh.ClientConfig {
	supported, insecure := ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()
	cfg := &ssh.ClientConfig{
		User:              "vigil",
		HostKeyCallback:   hostKey,
		HostKeyAlgorithms: slices.Concat(supported.HostKeys, insecure.HostKeys),
		ClientVersion:     "SSH-2.0-vigil",
	}
	cfg.KeyExchanges = slices.Concat(supported.KeyExchanges, insecure.KeyExchanges)
	cfg.Ciphers = slices.Concat(supported.Ciphers, insecure.Ciphers)
	cfg.MACs = slices.Concat(supported.MACs, insecure.MACs)
	return cfg
}

// sshErrorText words a failed handshake: "ssh: handshake failed: EOF"
// becomes "handshake failed: EOF" (the reason already starts with "ssh").
func sshErrorText(ctx context.Context, err error, d time.Duration) string {
	if err == nil {
		return "handshake ended without key exchange"
	}
	if isTimeout(err) || errors.Is(err, context.Canceled) {
		return "handshake: " + errorText(ctx, err, d)
	}
	return strings.TrimPrefix(err.Error(), "ssh: ")
}
