package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one mail as the SMTP server saw it.
type received struct {
	from     string
	rcpts    []string
	data     []byte
	tls      bool   // the session was encrypted when MAIL FROM came
	authUser string // who authenticated, "" for nobody
}

// smtpBackend is a real SMTP server's backend that keeps what it receives.
// When user is set, it requires AUTH PLAIN with user and pass.
type smtpBackend struct {
	user, pass string

	mu    sync.Mutex
	mails []received
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b, conn: c}, nil
}

func (b *smtpBackend) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.mails)
}

type smtpSession struct {
	b    *smtpBackend
	conn *smtp.Conn
	m    received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if s.b.user == "" || username != s.b.user || password != s.b.pass {
			return smtp.ErrAuthFailed
		}
		s.m.authUser = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && s.m.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.m.from = from
	_, s.m.tls = s.conn.TLSConnectionState()
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.rcpts = append(s.m.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = data
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, s.m)
	s.b.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.m = received{authUser: s.m.authUser} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP serves be on a loopback port: with STARTTLS when starttls is
// set, and with implicit TLS on ln when implicit is set.
func startSMTP(t *testing.T, be *smtpBackend, ln net.Listener, starttls, implicit *tls.Config) int {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if implicit != nil {
		ln = tls.NewListener(ln, implicit)
	}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.TLSConfig = starttls
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func emailChannel(t *testing.T, c *Email, o Options) Channel {
	t.Helper()
	return buildOne(t, c, o)
}

func boolPtr(b bool) *bool { return &b }

func TestEmailStartTLSAndAuth(t *testing.T) {
	cert := newTestCert(t)
	be := &smtpBackend{user: "vigil", pass: "smtp-secret-password"}
	port := startSMTP(t, be, nil, cert.serverConfig(), nil)
	o := testOptions()
	o.TLS = cert.clientConfig()
	ch := emailChannel(t, &Email{
		To:   "ops@example.com, On Call <oncall@example.com>",
		From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port,
		SMTPUsername: "vigil", SMTPPassword: "smtp-secret-password", SMTPEncrypt: boolPtr(true),
	}, o)
	if len(ch.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", ch.Warnings)
	}
	if err := ch.Targets[0].Notifier.Notify(context.Background(), msgDead); err != nil {
		t.Fatalf("Notify = %v, want nil", err)
	}
	mails := be.received()
	if len(mails) != 1 {
		t.Fatalf("server received %d mails, want 1", len(mails))
	}
	m := mails[0]
	if !m.tls || m.authUser != "vigil" {
		t.Errorf("session TLS, AUTH user = %v, %q; want true, vigil", m.tls, m.authUser)
	}
	if m.from != "alerts@example.com" {
		t.Errorf("MAIL FROM = %q, want alerts@example.com", m.from)
	}
	if want := []string{"ops@example.com", "oncall@example.com"}; !slices.Equal(m.rcpts, want) {
		t.Errorf("RCPT TO = %q, want %q", m.rcpts, want)
	}
	checkMail(t, m.data, msgDead, `<ops@example.com>, "On Call" <oncall@example.com>`)
}

// checkMail parses a received mail and compares its headers and body with
// what message.go renders for msg.
func checkMail(t *testing.T, data []byte, msg Message, wantTo string) {
	t.Helper()
	parsed, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse received mail: %v\n%s", err, data)
	}
	h := parsed.Header
	dec := new(mime.WordDecoder)
	header := func(k string) string {
		v, err := dec.DecodeHeader(h.Get(k))
		if err != nil {
			t.Errorf("decode header %s %q: %v", k, h.Get(k), err)
		}
		return v
	}
	if got, want := header("From"), `"Crisp Status" <alerts@example.com>`; got != want {
		t.Errorf("From = %q, want %q", got, want)
	}
	if got := header("To"); got != wantTo {
		t.Errorf("To = %q, want %q", got, wantTo)
	}
	if got, want := header("Subject"), emailSubject(msg); got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got := header("User-Agent"); got != "vigil/test" {
		t.Errorf("User-Agent = %q, want vigil/test", got)
	}
	if got := h.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") || !strings.Contains(strings.ToLower(got), "charset=utf-8") {
		t.Errorf("Content-Type = %q, want text/plain; charset=UTF-8", got)
	}
	if h.Get("Date") == "" || h.Get("Message-Id") == "" {
		t.Errorf("Date, Message-ID = %q, %q; want both set", h.Get("Date"), h.Get("Message-Id"))
	}
	var body io.Reader = parsed.Body
	if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	// SMTP ends the data with a line break of its own.
	got := strings.TrimSuffix(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n")
	if want := emailBody(msg); got != want {
		t.Errorf("body =\n%s\nwant\n%s", got, want)
	}
}

func TestEmailStartTLSRequiredButMissing(t *testing.T) {
	be := &smtpBackend{}
	port := startSMTP(t, be, nil, nil, nil) // no STARTTLS offered
	ch := emailChannel(t, &Email{
		To: "ops@example.com", From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port,
		SMTPUsername: "vigil", SMTPPassword: "smtp-secret-password", SMTPEncrypt: boolPtr(true),
	}, testOptions())
	err := ch.Targets[0].Notifier.Notify(context.Background(), msgDead)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Notify = %v, want an error about STARTTLS", err)
	}
	if strings.Contains(err.Error(), "smtp-secret-password") {
		t.Errorf("error %q contains the SMTP password", err)
	}
	if n := len(be.received()); n != 0 {
		t.Errorf("server received %d mails over a clear connection, want 0", n)
	}
}

func TestEmailOpportunistic(t *testing.T) {
	cert := newTestCert(t)
	for _, tc := range []struct {
		name     string
		starttls *tls.Config
		wantTLS  bool
	}{
		{"server without STARTTLS", nil, false},
		{"server with STARTTLS", cert.serverConfig(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &smtpBackend{}
			port := startSMTP(t, be, nil, tc.starttls, nil)
			o := testOptions()
			o.TLS = cert.clientConfig()
			ch := emailChannel(t, &Email{
				To: "ops@example.com", From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port,
				SMTPEncrypt: boolPtr(false),
			}, o)
			if err := ch.Targets[0].Notifier.Notify(context.Background(), msgReminder); err != nil {
				t.Fatalf("Notify = %v, want nil", err)
			}
			mails := be.received()
			if len(mails) != 1 {
				t.Fatalf("server received %d mails, want 1", len(mails))
			}
			if mails[0].tls != tc.wantTLS || mails[0].authUser != "" {
				t.Errorf("session TLS, AUTH user = %v, %q; want %v, none", mails[0].tls, mails[0].authUser, tc.wantTLS)
			}
		})
	}
}

// TestEmailUsernameWithoutPassword: like Vigil, no AUTH then, and a warning.
func TestEmailUsernameWithoutPassword(t *testing.T) {
	cert := newTestCert(t)
	be := &smtpBackend{}
	port := startSMTP(t, be, nil, cert.serverConfig(), nil)
	o := testOptions()
	o.TLS = cert.clientConfig()
	ch := emailChannel(t, &Email{
		To: "ops@example.com", From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port,
		SMTPUsername: "vigil", SMTPEncrypt: boolPtr(true),
	}, o)
	if len(ch.Warnings) != 1 || !strings.Contains(ch.Warnings[0], "smtp_password") {
		t.Errorf("Warnings = %q, want one about smtp_password", ch.Warnings)
	}
	if err := ch.Targets[0].Notifier.Notify(context.Background(), msgStartup); err != nil {
		t.Fatalf("Notify = %v, want nil", err)
	}
	if mails := be.received(); len(mails) != 1 || mails[0].authUser != "" {
		t.Errorf("received = %+v, want one mail sent without AUTH", mails)
	}
}

func TestEmailWrongPassword(t *testing.T) {
	cert := newTestCert(t)
	be := &smtpBackend{user: "vigil", pass: "the-right-password"}
	port := startSMTP(t, be, nil, cert.serverConfig(), nil)
	o := testOptions()
	o.TLS = cert.clientConfig()
	ch := emailChannel(t, &Email{
		To: "ops@example.com", From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port,
		SMTPUsername: "vigil", SMTPPassword: "smtp-wrong-password", SMTPEncrypt: boolPtr(true),
	}, o)
	err := ch.Targets[0].Notifier.Notify(context.Background(), msgDead)
	if err == nil {
		t.Fatal("Notify = nil, want an authentication error")
	}
	if strings.Contains(err.Error(), "smtp-wrong-password") {
		t.Errorf("error %q contains the SMTP password", err)
	}
	if retry, _ := ShouldRetry(err); retry {
		t.Errorf("ShouldRetry(%v) = true, want false for a 535 reply", err)
	}
}

func TestEmailServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ch := emailChannel(t, &Email{
		To: "ops@example.com", From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port,
		SMTPUsername: "vigil", SMTPPassword: "smtp-secret-password",
	}, testOptions())
	err = ch.Targets[0].Notifier.Notify(context.Background(), msgDead)
	var e *Error
	if !errors.As(err, &e) || !e.Retryable {
		t.Errorf("Notify to a closed port = %v, want a retryable *Error", err)
	}
}

// TestEmailImplicitTLS uses port 465, the one port where Vigil's Go version
// speaks TLS from the first byte. It needs that port free on 127.0.0.1.
func TestEmailImplicitTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:465")
	if err != nil {
		t.Skipf("port 465 is not available here (%v)", err)
	}
	cert := newTestCert(t)
	be := &smtpBackend{user: "vigil", pass: "smtp-secret-password"}
	port := startSMTP(t, be, ln, nil, cert.serverConfig())
	if port != 465 {
		t.Fatalf("listening on %d, want 465", port)
	}
	o := testOptions()
	o.TLS = cert.clientConfig()
	ch := emailChannel(t, &Email{
		To: "ops@example.com", From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: 465,
		SMTPUsername: "vigil", SMTPPassword: "smtp-secret-password", SMTPEncrypt: boolPtr(true),
	}, o)
	if err := ch.Targets[0].Notifier.Notify(context.Background(), msgDead); err != nil {
		t.Fatalf("Notify = %v, want nil", err)
	}
	mails := be.received()
	if len(mails) != 1 || !mails[0].tls || mails[0].authUser != "vigil" {
		t.Fatalf("received = %+v, want one mail over TLS with AUTH", mails)
	}
	checkMail(t, mails[0].data, msgDead, "<ops@example.com>")
}

// TestEmailDisplayNames checks that any page title makes a From header a
// mail server and a mail reader accept: before, a title with an unbalanced
// '"' made every mail fail for good.
func TestEmailDisplayNames(t *testing.T) {
	be := &smtpBackend{}
	port := startSMTP(t, be, nil, nil, nil)
	ch := emailChannel(t, &Email{
		To: `"Ops, \"night\" shift" <ops@example.com>, Équipe <equipe@example.com>`, From: "Alerts <alerts@example.com>",
		SMTPHost: "127.0.0.1", SMTPPort: port, SMTPEncrypt: boolPtr(false),
	}, testOptions())
	titles := []string{`Crisp "Status`, `Statut « Crisp »`, `a\b <c> "d" @e,f;g`}
	for _, title := range titles {
		m := msgDead
		m.PageTitle = title
		if err := ch.Targets[0].Notifier.Notify(context.Background(), m); err != nil {
			t.Fatalf("page title %q: Notify = %v, want nil", title, err)
		}
	}
	mails := be.received()
	if len(mails) != len(titles) {
		t.Fatalf("server received %d mails, want %d", len(mails), len(titles))
	}
	for i, title := range titles {
		parsed, err := netmail.ReadMessage(bytes.NewReader(mails[i].data))
		if err != nil {
			t.Fatal(err)
		}
		from, err := parsed.Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Name != title || from[0].Address != "alerts@example.com" {
			t.Errorf("From header %q = %v (%v), want %q <alerts@example.com>", parsed.Header.Get("From"), from, err, title)
		}
		to, err := parsed.Header.AddressList("To")
		if err != nil || len(to) != 2 || to[0].Name != `Ops, "night" shift` || to[1].Name != "Équipe" {
			t.Errorf("To header %q = %v (%v), want both names as written", parsed.Header.Get("To"), to, err)
		}
	}
}

// TestEmailRecipientsArray gives to as an array: each address is its own
// target, keyed by the address, and gets its own mail through the real SMTP
// test server; a bad element is named.
func TestEmailRecipientsArray(t *testing.T) {
	be := &smtpBackend{}
	port := startSMTP(t, be, nil, nil, nil)
	ch := emailChannel(t, &Email{
		To:   []any{"ops@example.com", "On Call <oncall@example.com>"},
		From: "alerts@example.com", SMTPHost: "127.0.0.1", SMTPPort: port, SMTPEncrypt: boolPtr(false),
	}, testOptions())
	var keys []string
	for _, tg := range ch.Targets {
		keys = append(keys, tg.Key)
		if err := tg.Notifier.Notify(context.Background(), msgDead); err != nil {
			t.Fatalf("Notify to %s = %v", tg.Key, err)
		}
	}
	if want := []string{"ops@example.com", "oncall@example.com"}; !slices.Equal(keys, want) {
		t.Fatalf("target keys = %q, want %q", keys, want)
	}
	mails := be.received()
	if len(mails) != 2 || !slices.Equal(mails[0].rcpts, []string{"ops@example.com"}) || !slices.Equal(mails[1].rcpts, []string{"oncall@example.com"}) {
		t.Fatalf("mails received: %+v, want one to each address", mails)
	}
	checkMail(t, mails[0].data, msgDead, `<ops@example.com>`)
	checkMail(t, mails[1].data, msgDead, `"On Call" <oncall@example.com>`)

	bad := &Email{To: []any{"ops@example.com", "not an address"}, From: "alerts@example.com"}
	if _, err := bad.Recipients(); err == nil || !strings.Contains(err.Error(), `to[1]: invalid address "not an address"`) {
		t.Errorf("Recipients of a bad array = %v, want the element named", err)
	}
}
