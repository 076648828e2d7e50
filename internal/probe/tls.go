package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TLS checks a TLS endpoint and its certificate (replica URL tls://host:port).
// It connects to the first resolved address, as TCP does, and completes a
// TLS handshake that verifies the certificate chain and the name Host. A
// failed connect or handshake is dead; a certificate that expires within
// SickBefore is sick, so the renewal that did not happen is noticed before
// clients start failing.
type TLS struct {
	Host       string        // name or IP literal, without IPv6 brackets; also the server name verified (SNI)
	Port       string        // port number
	SickBefore time.Duration // sick when the leaf certificate expires within this; 0: expiry never makes it sick
	Timeout    time.Duration // poll_delay_dead, covering connect and handshake; ≤ 0: ctx alone bounds the probe
	// SourceAddr is the local IP to connect from; nil lets the system choose.
	SourceAddr net.IP
	// RootCAs are the authorities the chain must lead to; nil: the system's roots.
	RootCAs *x509.CertPool
	// Now is the clock certificates are verified and judged at; nil means time.Now.
	Now func() time.Time
}

// Probe connects, completes the handshake, judges the certificate's expiry
// and hangs up.
func (t *TLS) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, t.Timeout)
	defer cancel()
	// One instant for both verification and the expiry judgement, so they
	// cannot disagree about a certificate expiring during the handshake.
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	start := time.Now()
	conn, addr, err := dialFirst(ctx, t.Host, t.Port, t.SourceAddr)
	if err != nil {
		return dead(time.Since(start), "connect tcp "+target(t.Host, t.Port, addr)+": "+netErrorText(ctx, err, t.Timeout))
	}
	// No session cache: every probe sees the certificate afresh and measures
	// a full handshake.
	tc := tls.Client(conn, &tls.Config{
		ServerName: t.Host,
		RootCAs:    t.RootCAs,
		Time:       func() time.Time { return now },
	})
	defer tc.Close() // closes conn too, with a close_notify once the handshake is done
	err = tc.HandshakeContext(ctx)
	latency := time.Since(start)
	op := "TLS " + target(t.Host, t.Port, addr)
	if err != nil {
		return dead(latency, op+": "+tlsErrorText(ctx, err, t.Timeout, now))
	}
	if reason := certExpiry(tc.ConnectionState(), now, t.SickBefore); reason != "" {
		return Result{Health: status.Sick, Latency: latency, Reason: op + ": " + reason}
	}
	return Result{Health: status.Healthy, Latency: latency}
}

// certExpiry judges the leaf certificate of a verified connection, for the
// TLS probe and https ones alike: it returns why the result is sick when the
// certificate expires within window of now, else "". A window ≤ 0 turns the
// judgement off.
func certExpiry(cs tls.ConnectionState, now time.Time, window time.Duration) string {
	if window <= 0 || len(cs.PeerCertificates) == 0 {
		return ""
	}
	notAfter := cs.PeerCertificates[0].NotAfter
	left := notAfter.Sub(now)
	switch {
	case left > window:
		return ""
	case left < 0:
		// Only when the clock judging expiry is not the one that verified
		// the chain (an https probe's transport verifies at real time).
		return "certificate has expired (not after " + certTime(notAfter) + ")"
	}
	return "certificate expires in " + timeLeft(left) + " (" + certTime(notAfter) + ")"
}

// timeLeft words the time until expiry in whole days, or whole hours under a
// day. It rounds down, so it never promises more time than is left.
func timeLeft(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return "less than an hour"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// certTime writes a certificate's validity bound to the minute, in UTC as
// certificates state it: "2026-12-08 12:00 UTC".
func certTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// tlsErrorText words a failed handshake. A certificate that does not verify,
// the usual cause, is said the way a person would fix it; anything else
// keeps the standard text after "handshake:", without crypto/tls's "tls: "
// (the reason already starts with "TLS").
func tlsErrorText(ctx context.Context, err error, d time.Duration, now time.Time) string {
	if isTimeout(err) || errors.Is(err, context.Canceled) {
		return "handshake: " + errorText(ctx, err, d)
	}
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		return certErrorText(ve.Err, now)
	}
	return "handshake: " + strings.TrimPrefix(netErrorText(ctx, err, d), "tls: ")
}

// certErrorText words a failed certificate verification at now. The
// standard texts give a date as "current time ... is after ...", in the
// clock's own zone, and leave out which authority is unknown; these name the
// date in UTC and the issuer to look for.
func certErrorText(err error, now time.Time) string {
	var (
		invalid x509.CertificateInvalidError
		unknown x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil:
		// x509 reports an expired intermediate or root as an unknown
		// authority (with a hint), so this is the leaf.
		c := invalid.Cert
		if now.Before(c.NotBefore) {
			return "certificate is not valid yet (not before " + certTime(c.NotBefore) + ")"
		}
		return "certificate has expired (not after " + certTime(c.NotAfter) + ")"
	case errors.As(err, &unknown) && unknown.Cert != nil:
		const std = "x509: certificate signed by unknown authority"
		text := "certificate signed by unknown authority " + strconv.Quote(unknown.Cert.Issuer.String())
		if bytes.Equal(unknown.Cert.RawIssuer, unknown.Cert.RawSubject) {
			text += " (self-signed)"
		}
		// Keep x509's hint, such as an expired intermediate: " (possibly because of ...)".
		return text + strings.TrimPrefix(unknown.Error(), std)
	}
	// Name mismatches and the rest already read well: "certificate is valid
	// for example.com, *.example.com, not db.example.com".
	return strings.TrimPrefix(err.Error(), "x509: ")
}
