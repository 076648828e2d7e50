package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Error is a failed delivery. Its text never holds a URL, token or password:
// channel URLs carry secrets (Telegram's bot token, Slack's webhook path,
// Matrix's access_token query) and the standard library puts URLs in errors.
type Error struct {
	// Status is the HTTP status code, 0 when there was no HTTP response.
	Status int
	// Retryable is true for network errors, timeouts, HTTP 429 and 5xx, and
	// temporary SMTP failures: sending again later may succeed.
	Retryable bool
	// RetryAfter is the server's Retry-After delay, 0 when not given.
	RetryAfter time.Duration
	// Detail is the start of the response body of a rejected request.
	Detail string
	// Err is the cause, if any, with URLs removed.
	Err error

	secrets []string
}

func (e *Error) Error() string {
	var s string
	switch {
	case e.Status != 0:
		s = fmt.Sprintf("status %d %s", e.Status, http.StatusText(e.Status))
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		if e.RetryAfter > 0 {
			s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
		}
	case e.Err != nil:
		s = e.Err.Error()
	default:
		s = "delivery failed"
	}
	return redact(s, e.secrets)
}

func (e *Error) Unwrap() error { return e.Err }

// ShouldRetry reports whether sending again later may succeed, and how long
// the server asked to wait (0: no preference). Errors that are not *Error
// (which Notify does not return) are retried: losing an alert is worse than
// trying again.
func ShouldRetry(err error) (retry bool, after time.Duration) {
	if err == nil {
		return false, 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable, e.RetryAfter
	}
	return true, 0
}

// detailMax is how much of a rejected response's body goes into the error,
// out of the first detailRead bytes.
const (
	detailMax  = 200
	detailRead = 4 << 10
)

// drainMax bounds how much of a response body is read before closing it, so
// that the connection can be reused without reading an endless reply.
const drainMax = 64 << 10

// poster is the one HTTP helper of every HTTP channel.
type poster struct {
	client    *http.Client
	userAgent string
	now       func() time.Time
}

// request is one POST.
type request struct {
	url         string
	contentType string
	header      http.Header // extra headers, such as Authorization
	body        []byte
	// secrets are removed from any error text, in case a server echoes
	// them or a library puts them in a message.
	secrets []string
}

// post sends r and classifies the outcome: nil on 2xx; a retryable *Error on
// network errors, 429 and 5xx; a permanent *Error on anything else.
func (p poster) post(ctx context.Context, r request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(r.body))
	if err != nil {
		// The message of a URL parse error quotes the URL.
		return &Error{Err: errors.New("invalid request URL"), secrets: r.secrets}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", r.contentType)
	req.Header.Set("User-Agent", p.userAgent)

	resp, err := p.client.Do(req)
	if err != nil {
		return &Error{Retryable: true, Err: stripURL(err), secrets: r.secrets}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainMax))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &Error{Status: resp.StatusCode, secrets: r.secrets}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		e.Retryable = true
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), p.now())
		return e
	}
	// Read well past detailMax and redact before cutting, so that the cut
	// cannot leave the first half of a secret behind.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, detailRead))
	e.Detail = truncateBytes(redact(printable(head), r.secrets), detailMax, detailMax, "")
	return e
}

// Post sends body to url with the channels' HTTP rules (see poster.post),
// for deliveries that are not a channel's but go through the outbox all
// the same (subscriber webhooks). The URL is treated as a secret: it never
// appears in the error.
func Post(ctx context.Context, client *http.Client, userAgent, url, contentType string, header http.Header, body []byte) error {
	p := poster{client: client, userAgent: userAgent, now: time.Now}
	return p.post(ctx, request{url: url, contentType: contentType, header: header, body: body, secrets: []string{url}})
}

// stripURL removes the URL that net/http puts into its errors: for several
// channels the URL itself is a secret.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// printable turns the start of a response body into one line of valid text.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.Join(strings.Fields(s), " ")
}

// minSecret is the shortest string redact removes; shorter ones would match
// ordinary text.
const minSecret = 6

// redact replaces every secret in s, also in its escaped forms (as found in
// a query, a form body or a path).
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) < minSecret {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), escapeSegment(sec)} {
			s = strings.ReplaceAll(s, form, "<redacted>")
		}
	}
	return s
}

// urlSecrets returns the parts of a URL that must not appear in errors: the
// URL itself, its path, its query and its password.
func urlSecrets(raw string) []string {
	s := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		s = append(s, u.EscapedPath(), u.Path, u.RawQuery)
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
	}
	return s
}

// joinURL appends path segments to base. Unlike Vigil's concatenation, it
// works whether or not base ends with a slash ("https://x/gotify" and
// "https://x/gotify/" both give "https://x/gotify/message"), and gives the
// same result for a root URL. Each segment is escaped only where a path
// requires it, so that a Matrix room id ("!abc:example.org") or a Telegram
// bot path ("bot123:ABC") is sent as Vigil sends it.
func joinURL(base string, segments ...string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		// The message of a URL parse error quotes the URL.
		return nil, errors.New("invalid base URL")
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, errors.New("base URL is not absolute")
	}
	raw := strings.TrimSuffix(u.EscapedPath(), "/")
	for _, s := range segments {
		raw += "/" + escapeSegment(s)
	}
	if u.Path, err = url.PathUnescape(raw); err != nil {
		return nil, errors.New("invalid base URL path")
	}
	u.RawPath = raw
	return u, nil
}

// escapeSegment percent-encodes every byte that may not appear as it is in
// a path segment (RFC 3986 pchar).
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// marshalJSON encodes v as serde_json does: no HTML escaping of <, > and &
// (Matrix bodies are HTML), no trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// form is an ordered list of form fields: url.Values would sort them, and
// the order Vigil sends is part of what the tests pin down.
type form [][2]string

func (f form) add(k, v string) form { return append(f, [2]string{k, v}) }

func (f form) encode() []byte {
	var b strings.Builder
	for i, kv := range f {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[0]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[1]))
	}
	return []byte(b.String())
}

const (
	contentJSON = "application/json"
	contentForm = "application/x-www-form-urlencoded"
)

// basicAuth returns an Authorization header with HTTP Basic credentials.
func basicAuth(user, password string) http.Header {
	creds := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	return http.Header{"Authorization": {"Basic " + creds}}
}
