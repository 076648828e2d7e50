package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// QueueThresholds are the limits a queue is judged by: the plugin's values
// with the node's overrides already applied.
type QueueThresholds struct {
	// ReadyHealthyBelow and NackHealthyBelow: a queue holding at least this
	// many ready (or unacknowledged) messages is loaded.
	ReadyHealthyBelow, NackHealthyBelow uint64
	// ReadyDeadAbove and NackDeadAbove: a queue holding more than this many
	// ready (or unacknowledged) messages is stalled.
	ReadyDeadAbove, NackDeadAbove uint64
}

// QueueResult is the outcome of one queue check.
type QueueResult struct {
	// Ready and Unacked are the queue's messages_ready and
	// messages_unacknowledged; both zero when OK is false.
	Ready, Unacked uint64
	// Loaded and Stalled judge the counts against the thresholds; a stalled
	// queue makes the node's replicas dead, a loaded one sick.
	Loaded, Stalled bool
	// Reason says why the queue is stalled or loaded ("queue jobs: 120
	// ready ≥ 100"), or why no figures could be had (OK false).
	Reason string
	// OK reports whether the management API answered with the queue's
	// figures. When it did not, the queue is neither loaded nor stalled: an
	// unreachable API does not make the node's replicas sick.
	OK bool
}

// RabbitMQ checks queues through the RabbitMQ management HTTP API, as
// Vigil's RabbitMQ plugin does, with one difference: a path prefix in
// APIURL is kept, so an API served behind a reverse proxy at
// https://host/rabbitmq works.
//
// Set the fields, then use a *RabbitMQ; it must not be copied or changed
// after its first Check, because it builds its transport then. Check may be
// called from several goroutines at once.
type RabbitMQ struct {
	// APIURL is the management API base (api_url); requests go to its path
	// followed by /api/queues/<vhost>/<queue>. Its query, fragment and user
	// info are ignored: credentials come from Username and Password.
	APIURL *url.URL
	// Username and Password are sent with HTTP Basic authentication.
	Username, Password string
	// VirtualHost is inserted into the path as written, so the "%2F" users
	// write for the default vhost "/" stays "%2F". Characters that cannot
	// appear in a path segment are escaped, a "/" included, so a vhost
	// written "/" works too.
	VirtualHost string
	// Timeout bounds each request, body included (poll_delay_dead).
	// ≤ 0: ctx alone bounds it.
	Timeout time.Duration
	// RetryDelay is queue_loaded_retry_delay: when a queue is loaded, wait
	// this long and check it once more, the second answer replacing the
	// first, so a short burst does not make the node sick. 0: no re-check.
	RetryDelay time.Duration
	// UserAgent is sent as User-Agent, "vigil (+<page_url>)"; "" sends none.
	UserAgent string
	// SourceAddr is the local IP to connect from; nil lets the system choose.
	SourceAddr net.IP

	once   sync.Once
	client *http.Client
}

// maxQueueBody bounds how much of an answer is read. A queue's JSON grows
// with its consumers (a few hundred bytes each), so this leaves room for
// thousands of them while keeping a misdirected api_url from filling memory.
const maxQueueBody = 8 << 20

// Check queries queue once (twice when it is loaded and RetryDelay is set)
// and judges it against th.
func (r *RabbitMQ) Check(ctx context.Context, queue string, th QueueThresholds) QueueResult {
	r.once.Do(r.init)
	res := r.check(ctx, queue, th)
	if !res.Loaded || r.RetryDelay <= 0 {
		return res
	}
	timer := time.NewTimer(r.RetryDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		// The caller gave up. A load that was never confirmed is not
		// reported, as the re-check exists to rule out short bursts.
		return QueueResult{Reason: fmt.Sprintf("%s; re-check after %s not made: %s",
			res.Reason, formatDuration(r.RetryDelay), causeText(ctx))}
	}
	return r.check(ctx, queue, th)
}

// check makes one request and judges its answer.
func (r *RabbitMQ) check(ctx context.Context, queue string, th QueueThresholds) QueueResult {
	u := r.queueURL(queue)
	op := "GET " + u.Redacted()

	ctx, cancel := withTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return QueueResult{Reason: op + ": " + err.Error()}
	}
	req.SetBasicAuth(r.Username, r.Password)
	if r.UserAgent != "" {
		req.Header.Set("User-Agent", r.UserAgent)
	} else {
		req.Header["User-Agent"] = nil // keep net/http from adding Go-http-client
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and the URL
		}
		return QueueResult{Reason: op + ": " + errorText(ctx, err, r.Timeout)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxQueueBody))
	if err != nil {
		return QueueResult{Reason: op + ": reading body: " + errorText(ctx, err, r.Timeout)}
	}
	if resp.StatusCode != http.StatusOK {
		return QueueResult{Reason: op + ": " + statusText(resp.StatusCode, body)}
	}

	var q struct {
		Ready   *uint64 `json:"messages_ready"`
		Unacked *uint64 `json:"messages_unacknowledged"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		return QueueResult{Reason: op + ": decoding answer: " + err.Error()}
	}
	if q.Ready == nil || q.Unacked == nil {
		// RabbitMQ leaves the counts out of a queue it has not collected
		// statistics for yet (just declared), and when statistics are off.
		// Vigil fails to parse such an answer; counting it as empty would
		// hide a queue that is in fact full.
		return QueueResult{Reason: op + ": answer has no messages_ready and messages_unacknowledged" +
			" (statistics not collected yet, or disabled)"}
	}
	return judge(queue, *q.Ready, *q.Unacked, th)
}

// judge applies the thresholds to the counts.
func judge(queue string, ready, unacked uint64, th QueueThresholds) QueueResult {
	res := QueueResult{Ready: ready, Unacked: unacked, OK: true}
	var stalled, loaded []string
	if ready > th.ReadyDeadAbove {
		stalled = append(stalled, fmt.Sprintf("%d ready > %d", ready, th.ReadyDeadAbove))
	}
	if unacked > th.NackDeadAbove {
		stalled = append(stalled, fmt.Sprintf("%d unacked > %d", unacked, th.NackDeadAbove))
	}
	if ready >= th.ReadyHealthyBelow {
		loaded = append(loaded, fmt.Sprintf("%d ready ≥ %d", ready, th.ReadyHealthyBelow))
	}
	if unacked >= th.NackHealthyBelow {
		loaded = append(loaded, fmt.Sprintf("%d unacked ≥ %d", unacked, th.NackHealthyBelow))
	}
	res.Stalled, res.Loaded = len(stalled) > 0, len(loaded) > 0
	// The reason explains the worse verdict, the one the node will show.
	switch {
	case res.Stalled:
		res.Reason = "queue " + queue + ": " + strings.Join(stalled, ", ")
	case res.Loaded:
		res.Reason = "queue " + queue + ": " + strings.Join(loaded, ", ")
	}
	return res
}

// statusText words an answer other than 200, with a hint at the usual
// cause and the management API's own explanation when it gives one
// ({"error":"Object Not Found","reason":"Not Found"}).
func statusText(code int, body []byte) string {
	text := fmt.Sprintf("status %d", code)
	switch code {
	case http.StatusUnauthorized:
		text += " (check auth_username and auth_password; the user needs the management tag)"
	case http.StatusForbidden:
		text += " (the user may not read this vhost)"
	case http.StatusNotFound:
		text += " (queue or vhost not found)"
	}
	var e struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &e) == nil && e.Reason != "" && len(e.Reason) <= 200 {
		text += ": " + e.Reason
	}
	return text
}

// causeText words why ctx ended, as errorText does for a failed request.
func causeText(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return "canceled"
	}
	return context.Cause(ctx).Error()
}

// queueURL returns the URL of queue's figures: APIURL's path (Vigil drops
// it) followed by /api/queues/<vhost>/<queue>.
func (r *RabbitMQ) queueURL(queue string) *url.URL {
	u := *r.APIURL
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	raw := strings.TrimSuffix(r.APIURL.EscapedPath(), "/") +
		"/api/queues/" + escapeSegment(r.VirtualHost) + "/" + escapeSegment(queue)
	u.RawPath = raw
	u.Path, _ = url.PathUnescape(raw) // cannot fail: both parts are validly escaped
	return &u
}

// escapeSegment makes s one path segment. Valid percent-escapes are kept as
// written, as Vigil sends them ("%2F" for the default vhost); every other
// byte but the unreserved ones (letters, digits, "-._~") is escaped, "/" and
// a stray "%" included, so that no name can reach another resource.
func escapeSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s)) // or it would name the parent
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteString(s[i : i+3])
			i += 2
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// init builds the client: Vigil's HTTP client settings (no redirects,
// proxies from the environment, no compression). Keep-alives are off: a
// queue is checked at most once per period, so a kept connection would
// idle far longer than it works.
func (r *RabbitMQ) init() {
	dialer := &net.Dialer{}
	if r.SourceAddr != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: r.SourceAddr}
	}
	r.client = &http.Client{
		Transport: &http.Transport{
			Proxy:              http.ProxyFromEnvironment,
			DialContext:        dialer.DialContext,
			DisableKeepAlives:  true,
			DisableCompression: true,
			ForceAttemptHTTP2:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
