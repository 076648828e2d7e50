package notify

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTPServer says how to reach a mail server: [notify.email]'s smtp_* keys,
// or [subscriptions.smtp]. One spelling of how Vigil talks SMTP, for alerts
// and subscriber mail alike.
type SMTPServer struct {
	Host     string // "localhost" when empty
	Port     int    // 587 when 0; 465 means implicit TLS
	Username string // authenticates only when both are set, as Vigil does
	Password string
	// Encrypt requires STARTTLS; otherwise it is used when the server
	// offers it.
	Encrypt bool
}

// Server returns the SMTP server of [notify.email].
func (e *Email) Server() SMTPServer {
	return SMTPServer{Host: e.SMTPHost, Port: e.SMTPPort, Username: e.SMTPUsername, Password: e.SMTPPassword,
		Encrypt: e.SMTPEncrypt == nil || *e.SMTPEncrypt}
}

func (s SMTPServer) withDefaults() SMTPServer {
	if s.Host == "" {
		s.Host = "localhost"
	}
	if s.Port == 0 {
		s.Port = 587
	}
	return s
}

// SendMail sends msgs over one connection to the server, within ctx. An
// error is an *Error that says whether to retry (a 5xx reply: no) and
// never holds the password. base is the TLS configuration to start from
// (nil: the system roots); o supplies the timeout.
func SendMail(ctx context.Context, srv SMTPServer, o Options, msgs ...*mail.Msg) error {
	o = o.withDefaults()
	srv = srv.withDefaults()
	base := o.TLS
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc := base.Clone()
	tc.ServerName = srv.Host
	client, err := mail.NewClient(srv.Host, srv.clientOptions(o.Timeout, tc)...)
	if err != nil {
		return &Error{Err: err, secrets: []string{srv.Password}}
	}
	if err := client.DialAndSendWithContext(ctx, msgs...); err != nil {
		return &Error{Retryable: smtpRetryable(err), Err: err, secrets: []string{srv.Password}}
	}
	return nil
}

// clientOptions are go-mail's options for the server: implicit TLS on
// port 465, STARTTLS required or opportunistic otherwise, and
// authentication when both username and password are set.
func (s SMTPServer) clientOptions(timeout time.Duration, tc *tls.Config) []mail.Option {
	opts := []mail.Option{
		mail.WithPort(s.Port),
		mail.WithTimeout(timeout),
		mail.WithTLSConfig(tc),
	}
	switch {
	case s.Port == 465:
		opts = append(opts, mail.WithSSL())
	case s.Encrypt:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if s.Username != "" && s.Password != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(s.Username),
			mail.WithPassword(s.Password))
	}
	return opts
}
