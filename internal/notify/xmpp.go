package notify

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xmppo/go-xmpp"
)

// XMPP is [notify.xmpp].
type XMPP struct {
	To           string `toml:"to" check:"required"`
	From         string `toml:"from" check:"required"`
	XMPPPassword string `toml:"xmpp_password" check:"secret"`
	Common
}

func (x *XMPP) targets(o Options) ([]Target, []string, error) { return single(newXMPP(x, o)) }

// xmppChannel sends one chat message: it connects as from (STARTTLS
// required, then SASL), sends, and disconnects.
type xmppChannel struct {
	from     string
	to       string
	password string
	addr     string // host:port; empty: SRV lookup of from's domain
	domain   string
	timeout  time.Duration
	tls      *tls.Config
	now      func() time.Time
}

func newXMPP(c *XMPP, o Options) (*xmppChannel, error) {
	_, domain, ok := strings.Cut(c.From, "@")
	if !ok || domain == "" {
		return nil, errors.New("from: want a JID such as vigil@example.org")
	}
	domain, _, _ = strings.Cut(domain, "/") // drop a resource
	base := o.TLS
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc := base.Clone()
	tc.ServerName = domain // XMPP certificates name the domain, not the host
	return &xmppChannel{
		from:     c.From,
		to:       c.To,
		password: c.XMPPPassword,
		addr:     o.XMPPAddr,
		domain:   domain,
		timeout:  o.Timeout,
		tls:      tc,
		now:      o.Now,
	}, nil
}

// Notify sends <message type="chat" id="vigil-<unix seconds>" to="<to>">
// with the text of xmppText.
//
// The XMPP library takes no context: the exchange runs in a goroutine that
// ends when the library returns (its dial is bounded by the timeout, its
// reads by the server). When ctx ends first, Notify returns at once and the
// goroutine finishes on its own.
func (x *xmppChannel) Notify(ctx context.Context, m Message) error {
	stanza := xmppStanza(x.to, "vigil-"+strconv.FormatInt(x.now().Unix(), 10), xmppText(m))
	done := make(chan error, 1)
	go func() { done <- x.send(stanza) }()
	select {
	case err := <-done:
		if err != nil {
			return &Error{Retryable: true, Err: err, secrets: []string{x.password}}
		}
		return nil
	case <-ctx.Done():
		return &Error{Retryable: true, Err: fmt.Errorf("xmpp: %w", ctx.Err())}
	}
}

func (x *xmppChannel) send(stanza string) error {
	opts := xmpp.Options{
		Host:        x.addr,
		User:        x.from,
		Password:    x.password,
		DialTimeout: x.timeout,
		TLSConfig:   x.tls,
		NoTLS:       true, // connect in the clear, then…
		StartTLS:    true, // …require STARTTLS before SASL
	}
	c, err := opts.NewClient()
	if err != nil {
		return fmt.Errorf("xmpp connect: %w", err)
	}
	if _, err := c.SendOrg(stanza); err != nil {
		_ = c.Close()
		return fmt.Errorf("xmpp send: %w", err)
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("xmpp close: %w", err)
	}
	return nil
}

// xmppStanza returns the message stanza Vigil sends. The library's own Send
// makes up an id; Vigil's is "vigil-<unix seconds>".
func xmppStanza(to, id, body string) string {
	var b strings.Builder
	b.WriteString(`<message type="chat" id="`)
	_ = xml.EscapeText(&b, []byte(id))
	b.WriteString(`" to="`)
	_ = xml.EscapeText(&b, []byte(to))
	b.WriteString(`"><body>`)
	_ = xml.EscapeText(&b, []byte(body))
	b.WriteString("</body></message>")
	return b.String()
}
