package notify

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/textproto"

	"github.com/wneessen/go-mail"
)

// Email is [notify.email].
type Email struct {
	// To is one address, or several separated by commas, who get one mail
	// together (Vigil's form); or an array of addresses, each its own
	// target: its own mail, delivered and retried apart from the others.
	To           any    `toml:"to"`
	From         string `toml:"from"`
	SMTPHost     string `toml:"smtp_host"` // "localhost"
	SMTPPort     int    `toml:"smtp_port"` // 587
	SMTPUsername string `toml:"smtp_username"`
	SMTPPassword string `toml:"smtp_password"`
	SMTPEncrypt  *bool  `toml:"smtp_encrypt"` // true: STARTTLS required
	Common
}

// Check fills Vigil's defaults and checks the addresses and the port.
func (e *Email) Check(c Checker) {
	if !c.Has("smtp_host") {
		e.SMTPHost = "localhost"
	}
	if !c.Has("smtp_port") {
		e.SMTPPort = 587
	}
	if e.SMTPEncrypt == nil {
		encrypt := true
		e.SMTPEncrypt = &encrypt
	}
	// The channel builds its headers with these same methods, so a config
	// that passes here can always be sent.
	if _, set := e.To.(string); set || e.To == nil {
		if c.Required("to", e.toText()) {
			if _, err := e.Recipients(); err != nil {
				c.Errorf("to", "invalid address list %q: %v", e.To, err)
			}
		}
	} else if _, err := e.Recipients(); err != nil {
		c.Errorf("to", "%v", err)
	}
	if c.Required("from", e.From) {
		if _, err := e.Sender(c.PageTitle()); err != nil {
			c.Errorf("from", "invalid address %q: %v", e.From, err)
		}
	}
	c.Required("smtp_host", e.SMTPHost)
	c.Secret("smtp_password", e.SMTPPassword, false)
	if e.SMTPPort < 1 || e.SMTPPort > 65535 {
		c.Errorf("smtp_port", "port %d out of range 1-65535", e.SMTPPort)
	}
}

// toText is To when it is a string.
func (e *Email) toText() string {
	s, _ := e.To.(string)
	return s
}

// Recipients parses to: every recipient of every mail.
func (e *Email) Recipients() ([]*netmail.Address, error) {
	mails, err := e.mails()
	if err != nil {
		return nil, err
	}
	var out []*netmail.Address
	for _, m := range mails {
		out = append(out, m...)
	}
	return out, nil
}

// mails parses to into the recipients of each mail: one list of every
// address for a string, one list per address for an array. A group naming
// nobody ("undisclosed-recipients:;") parses without error but leaves no
// one to send to, so it is an error too.
func (e *Email) mails() ([][]*netmail.Address, error) {
	parse := func(s string) ([]*netmail.Address, error) {
		list, err := netmail.ParseAddressList(s)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, errors.New("no recipient in it")
		}
		return list, nil
	}
	switch to := e.To.(type) {
	case string:
		list, err := parse(to)
		if err != nil {
			return nil, err
		}
		return [][]*netmail.Address{list}, nil
	case []string:
		return e.each(len(to), func(i int) any { return to[i] }, parse)
	case []any:
		return e.each(len(to), func(i int) any { return to[i] }, parse)
	case nil:
		return nil, errors.New("no recipient in it")
	}
	return nil, fmt.Errorf("want an address, or an array of addresses; got %T", e.To)
}

// each parses the n elements of an array of addresses, one mail each.
func (e *Email) each(n int, at func(int) any, parse func(string) ([]*netmail.Address, error)) ([][]*netmail.Address, error) {
	if n == 0 {
		return nil, errors.New("an empty array names no recipient")
	}
	out := make([][]*netmail.Address, 0, n)
	for i := range n {
		s, ok := at(i).(string)
		if !ok {
			return nil, fmt.Errorf("to[%d]: want a string, got %T", i, at(i))
		}
		list, err := parse(s)
		if err != nil {
			return nil, fmt.Errorf("to[%d]: invalid address %q: %v", i, s, err)
		}
		out = append(out, list)
	}
	return out, nil
}

// Sender is the From of alert mails: from's address, with name (the page
// title) as display name. net/mail quotes and escapes the name, or encodes
// it as an RFC 2047 word when it is not printable ASCII; the header is read
// back to be sure that any title yields one a mail server accepts.
func (e *Email) Sender(name string) (*netmail.Address, error) {
	from, err := netmail.ParseAddress(e.From)
	if err != nil {
		return nil, err
	}
	a := &netmail.Address{Name: name, Address: from.Address}
	if _, err := netmail.ParseAddress(a.String()); err != nil {
		return nil, fmt.Errorf("the From header %s cannot be read back: %v", a, err)
	}
	return a, nil
}

// targets is one target for a string to (Vigil's one mail), and one per
// address for an array, keyed by the address.
func (e *Email) targets(o Options) ([]Target, []string, error) {
	mails, err := e.mails()
	if err != nil {
		return nil, nil, fmt.Errorf("to: %w", err)
	}
	_, single := e.To.(string)
	var out []Target
	var warnings []string
	for _, to := range mails {
		n, w, err := newEmail(e, to, o)
		if err != nil {
			return nil, nil, err
		}
		warnings = w
		key := ""
		if !single {
			key = to[0].Address
		}
		out = append(out, Target{Key: key, Notifier: n})
	}
	return out, warnings, nil
}

// email sends one plain-text mail to every configured recipient over SMTP
// (SendMail, the one SMTP path).
type email struct {
	cfg       *Email
	to        []*netmail.Address
	srv       SMTPServer
	o         Options // the timeout and TLS configuration
	userAgent string
}

// newEmail builds the email channel. Like Vigil, it authenticates only when
// both smtp_username and smtp_password are set; a warning says so when only
// one of them is.
func newEmail(c *Email, to []*netmail.Address, o Options) (*email, []string, error) {
	if _, err := c.Sender(""); err != nil {
		return nil, nil, fmt.Errorf("from: %w", err)
	}
	var warnings []string
	switch {
	case c.SMTPUsername != "" && c.SMTPPassword == "":
		warnings = append(warnings, "smtp_username is set but smtp_password is not: mail is sent without authentication")
	case c.SMTPUsername == "" && c.SMTPPassword != "":
		warnings = append(warnings, "smtp_password is set but smtp_username is not: mail is sent without authentication")
	}
	return &email{cfg: c, to: to, srv: c.Server(), o: o, userAgent: "vigil/" + o.Version}, warnings, nil
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

	return SendMail(ctx, e.srv, e.o, msg)
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
