package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/textproto"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/vigil-go/vigil/internal/config"
)

// email sends one plain-text mail to every configured recipient over SMTP.
type email struct {
	host     string
	port     int
	username string
	password string
	// encrypt requires STARTTLS (smtp_encrypt = true); otherwise STARTTLS
	// is used when the server offers it. Port 465 uses implicit TLS.
	encrypt   bool
	cfg       *config.Email
	to        []*netmail.Address
	timeout   time.Duration
	tls       *tls.Config
	userAgent string
}

// newEmail builds the email channel. Like Vigil, it authenticates only when
// both smtp_username and smtp_password are set; a warning says so when only
// one of them is.
func newEmail(c *config.Email, o Options) (*email, []string, error) {
	if _, err := c.Sender(""); err != nil {
		return nil, nil, fmt.Errorf("from: %w", err)
	}
	to, err := c.Recipients()
	if err != nil {
		return nil, nil, fmt.Errorf("to: %w", err)
	}
	var warnings []string
	switch {
	case c.SMTPUsername != "" && c.SMTPPassword == "":
		warnings = append(warnings, "smtp_username is set but smtp_password is not: mail is sent without authentication")
	case c.SMTPUsername == "" && c.SMTPPassword != "":
		warnings = append(warnings, "smtp_password is set but smtp_username is not: mail is sent without authentication")
	}
	host, port := c.SMTPHost, c.SMTPPort
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		port = 587
	}
	base := o.TLS
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc := base.Clone()
	tc.ServerName = host
	return &email{
		host:      host,
		port:      port,
		username:  c.SMTPUsername,
		password:  c.SMTPPassword,
		encrypt:   c.SMTPEncrypt == nil || *c.SMTPEncrypt,
		cfg:       c,
		to:        to,
		timeout:   o.Timeout,
		tls:       tc,
		userAgent: "vigil/" + o.Version,
	}, warnings, nil
}

// Notify sends the mail: From "P" <from>, To every recipient, the subject
// and body of message.go. The addresses are handed over parsed, so that
// net/mail encodes the display names: go-mail's FromFormat pasted the page
// title between quotes, and a title with a '"' made every mail fail.
func (e *email) Notify(ctx context.Context, m Message) error {
	from, err := e.cfg.Sender(m.PageTitle)
	if err != nil {
		return &Error{Err: fmt.Errorf("from: %w", err)}
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	msg.ToMailAddress(e.to...)
	msg.Subject(emailSubject(m))
	msg.SetUserAgent(e.userAgent)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, emailBody(m))

	opts := []mail.Option{
		mail.WithPort(e.port),
		mail.WithTimeout(e.timeout),
		mail.WithTLSConfig(e.tls),
	}
	switch {
	case e.port == 465:
		opts = append(opts, mail.WithSSL())
	case e.encrypt:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if e.username != "" && e.password != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(e.username),
			mail.WithPassword(e.password))
	}
	client, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return &Error{Err: err, secrets: []string{e.password}}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return &Error{Retryable: smtpRetryable(err), Err: err, secrets: []string{e.password}}
	}
	return nil
}

// smtpRetryable reports whether an SMTP failure may pass later: everything
// but a permanent (5xx) reply. A server that does not offer the required
// STARTTLS is retried too: fixing the server's configuration should not
// lose the alert.
func smtpRetryable(err error) bool {
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 {
		return false
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return false
	}
	return true
}
