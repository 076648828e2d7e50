// Package mailbox is a real SMTP server for tests, on a loopback port,
// that keeps every mail it receives and parses it: headers, and the plain
// text and HTML parts of a multipart/alternative body.
package mailbox

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one received mail.
type Mail struct {
	From   string   // the envelope sender
	To     []string // the envelope recipients
	Raw    []byte
	Header netmail.Header
	Text   string // the text/plain part, decoded
	HTML   string // the text/html part, decoded; "" when there is none
}

// Subject is the decoded Subject header.
func (m Mail) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

// Server is a running SMTP server. Its methods are safe for concurrent use.
type Server struct {
	Host string
	Port int

	srv     *smtp.Server
	mu      sync.Mutex
	mails   []Mail
	arrived chan struct{} // closed and replaced at each mail
	refuse  bool
	// countOnly keeps a count of the mails instead of the mails, so that a
	// benchmark's memory is the sender's, not the mailbox's.
	countOnly bool
	count     int
}

// Start serves on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, arrived: make(chan struct{})}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		<-done
	})
	return s
}

// CountOnly makes the server count the mails it receives without keeping
// them: Wait with rcpt "" then counts them; Mails and To return none.
func (s *Server) CountOnly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countOnly = true
}

// Mails returns what was received so far, in order.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// To returns the mails received for one recipient, in order.
func (s *Server) To(rcpt string) []Mail {
	var out []Mail
	for _, m := range s.Mails() {
		for _, to := range m.To {
			if strings.EqualFold(to, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Wait waits until rcpt ("" for anyone) has received n mails, and returns
// them; the test fails after timeout.
func (s *Server) Wait(t testing.TB, rcpt string, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		got := s.Mails()
		if rcpt != "" {
			got = s.To(rcpt)
		}
		s.mu.Lock()
		count := s.count
		s.mu.Unlock()
		if len(got) >= n || (rcpt == "" && count >= n) {
			return got
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("mailbox: %d mails for %q (%d in all) after %v, want %d", len(got), rcpt, count, timeout, n)
		}
	}
}

// Refuse makes the server answer every mail with a temporary failure
// (451) while on: a mail server that is down.
func (s *Server) Refuse(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = on
}

// NewSession is go-smtp's backend.
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s *Server
	m Mail
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	refuse := x.s.refuse
	x.s.mu.Unlock()
	if refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.m.From = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.m.To = append(x.m.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.m.Raw = raw
	if err := parse(&x.m); err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unreadable mail: " + err.Error()}
	}
	x.s.mu.Lock()
	x.s.count++
	if !x.s.countOnly {
		x.s.mails = append(x.s.mails, x.m)
	}
	close(x.s.arrived)
	x.s.arrived = make(chan struct{})
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.m = Mail{} }
func (x *session) Logout() error { return nil }

// parse reads the headers and the text and HTML parts.
func parse(m *Mail) error {
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	return readPart(m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func readPart(m *Mail, contentType, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readPart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // it skips line breaks
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}
