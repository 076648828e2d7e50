package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TCP checks that a port accepts connections (replica URL tcp://host:port).
// Like Vigil, it resolves the host and connects to the first address only,
// so a name whose first address is unreachable IPv6 is dead even if its IPv4
// address works. Without Send and Expect the connection is closed as soon as
// it is established; with them the probe holds a short exchange (a Redis
// PING, an SMTP banner) and judges the answer.
type TCP struct {
	Host    string        // name or IP literal, without IPv6 brackets
	Port    string        // port number
	Timeout time.Duration // poll_delay_dead, covering the whole check; ≤ 0: ctx alone bounds the probe
	// SourceAddr is the local IP to connect from; nil lets the system choose.
	SourceAddr net.IP
	// Send is written once connected (tcp_send); "" writes nothing.
	Send string
	// Expect, when set, must match what the server sends (tcp_expect),
	// read until it matches, the server closes or MaxExpect bytes came.
	Expect *regexp.Regexp
}

// MaxExpect bounds what the TCP probe reads to match Expect: answers worth
// checking are short, and a server streaming data must not hold the probe.
const MaxExpect = 64 << 10

// Probe connects once and reports healthy on success.
func (t TCP) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, t.Timeout)
	defer cancel()
	start := time.Now()
	conn, addr, err := dialFirst(ctx, t.Host, t.Port, t.SourceAddr)
	if err != nil {
		return dead(time.Since(start), "connect tcp "+target(t.Host, t.Port, addr)+": "+netErrorText(ctx, err, t.Timeout))
	}
	defer conn.Close()
	if t.Send == "" && t.Expect == nil {
		return Result{Health: status.Healthy, Latency: time.Since(start)}
	}
	// The connection has no context: closing it when ctx ends unblocks a
	// read or write stuck on a server that never answers.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	name := "tcp " + target(t.Host, t.Port, addr)
	if t.Send != "" {
		if _, err := io.WriteString(conn, t.Send); err != nil {
			return dead(time.Since(start), "send to "+name+": "+exchangeErrorText(ctx, err, t.Timeout))
		}
	}
	if t.Expect == nil {
		return Result{Health: status.Healthy, Latency: time.Since(start)}
	}
	got, err := readUntilMatch(conn, t.Expect)
	latency := time.Since(start)
	if err == nil {
		return Result{Health: status.Healthy, Latency: latency}
	}
	what := "no answer"
	if len(got) > 0 {
		what = "got " + quoteAnswer(got)
	}
	cause := "the server closed the connection"
	switch {
	case errors.Is(err, errAnswerTooLong):
		cause = "read " + strconv.Itoa(MaxExpect) + " bytes"
	case !errors.Is(err, io.EOF):
		cause = exchangeErrorText(ctx, err, t.Timeout)
	}
	return dead(latency, fmt.Sprintf("%s: %s, want a match of %s (%s)", name, what, t.Expect, cause))
}

var errAnswerTooLong = errors.New("answer too long")

// readUntilMatch reads from r until what came matches re, and returns it.
// It returns what came with io.EOF when the server closed first,
// errAnswerTooLong past MaxExpect bytes, or the read error.
func readUntilMatch(r io.Reader, re *regexp.Regexp) ([]byte, error) {
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if re.Match(got) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		if len(got) >= MaxExpect {
			return got, errAnswerTooLong
		}
	}
}

// quoteAnswer quotes the start of an answer for a reason: enough to
// recognise it ("-ERR unknown command"), not a page of binary.
func quoteAnswer(b []byte) string {
	const shown = 80
	if len(b) > shown {
		return strconv.Quote(string(b[:shown])) + "…"
	}
	return strconv.Quote(string(b))
}

// exchangeErrorText words an error of a read or write on a connection that
// ctx closes when it ends. Once ctx has ended, whatever the connection saw
// ("use of closed network connection", an expired deadline) is ctx's doing
// and is worded as such; otherwise only the cause of the error remains.
func exchangeErrorText(ctx context.Context, err error, d time.Duration) string {
	if ctx.Err() != nil {
		return errorText(ctx, ctx.Err(), d)
	}
	return netErrorText(ctx, err, d)
}

// dialFirst resolves host and opens a TCP connection to its first address,
// which it also returns ("" if resolution failed). Resolution and connect are
// both bounded by ctx.
func dialFirst(ctx context.Context, host, port string, source net.IP) (net.Conn, string, error) {
	addr, err := firstAddr(ctx, host, port, source)
	if err != nil {
		return nil, addr, err
	}
	var d net.Dialer
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	return conn, addr, err
}

// firstAddr resolves host and returns its first address joined with port
// (the one Vigil connects to), or "" if resolution failed. A source address
// of the other IP version is refused here with its cause: net would only
// say "no suitable address found".
func firstAddr(ctx context.Context, host, port string, source net.IP) (string, error) {
	// LookupIPAddr returns IP literals as they are, without asking DNS.
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("lookup %s: no address", host)
	}
	ip := ips[0].IP
	addr := net.JoinHostPort(ips[0].String(), port)
	if source != nil && (source.To4() == nil) != (ip.To4() == nil) {
		return addr, fmt.Errorf("source address %s cannot reach %s: not the same IP version", source, ip)
	}
	return addr, nil
}

// target names what was connected to: "db:5432 (10.0.0.3:5432)" when the
// host is a name, so the reason shows which address failed.
func target(host, port, addr string) string {
	hp := net.JoinHostPort(host, port)
	if addr == "" || addr == hp {
		return hp
	}
	return hp + " (" + addr + ")"
}

// netErrorText words an error of a connection: a dialFirst error, or a
// read or write that failed. The reason already names the address ("connect
// tcp host:port", "TLS host:port"), so the standard "dial tcp
// 10.0.0.3:22: connect:" or "read tcp a->b: read:" prefix is dropped and
// only the cause remains ("connection refused", "connection reset by peer").
func netErrorText(ctx context.Context, err error, d time.Duration) string {
	var oe *net.OpError
	if errors.As(err, &oe) && (oe.Op == "dial" || oe.Op == "read" || oe.Op == "write") {
		err = oe.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return errorText(ctx, err, d)
}
