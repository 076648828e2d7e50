package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// HTTP requests a URL (replica URL http:// or https://) and judges the
// status code and, optionally, the body. As in Vigil it follows no redirect
// unless FollowRedirects is set (a 3xx is judged by the status range like any
// other code), asks for no compression, appends a cache buster and bounds the
// whole exchange, redirects and body included, by one timeout.
//
// Set the fields, then use a *HTTP; it must not be copied or changed after
// its first Probe, because it builds its transport then.
type HTTP struct {
	URL *url.URL // the normalised replica URL
	// Method is http_method; "" means GET when BodyMatch is set, else HEAD.
	Method string
	// Header holds the node's http_headers. A header here replaces the
	// default of the same name, so User-Agent can be overridden; a Host
	// header sets the request's host.
	Header http.Header
	// Body is http_body, sent with POST, PUT and PATCH only.
	Body string
	// BodyMatch, when set, must match somewhere in the first MaxBody bytes
	// of the body. Only then is the body read at all.
	BodyMatch *regexp.Regexp
	// HealthyAbove (inclusive) and HealthyBelow (exclusive) bound the healthy
	// status codes (poll_http_status_healthy_above/below). Both zero means
	// Vigil's default, 200 to 399.
	HealthyAbove, HealthyBelow int
	// NoCacheBuster is http_no_cache_buster: do not append "?<unix time>".
	NoCacheBuster bool
	// FollowRedirects is http_follow_redirects. False (Vigil's behaviour)
	// judges a 3xx as a status like any other. True follows up to
	// MaxRedirects redirects as net/http does (301, 302 and 303 turn a POST
	// into a GET without body; HEAD stays HEAD; 307 and 308 repeat the method
	// and body) and judges the final response; one more redirect is dead.
	// Redirect targets are requested as the server wrote them, without a
	// cache buster (it could break a signed URL, and the buster's job is done
	// once the configured URL bypassed the cache). The node's headers go
	// along, but net/http drops Authorization and Cookie when a redirect
	// leaves the configured host and its subdomains, and keeps a Host
	// override only on a relative redirect. Reasons then name the URL
	// answered last: "status 503 at https://example.com/final, want 200–399".
	FollowRedirects bool
	// UserAgent is the default User-Agent, "vigil (+<page_url>)". "" sends
	// none, as Go's own default would be a lie about who is asking.
	UserAgent string
	// Timeout is poll_delay_dead: connect, TLS, response and body together.
	// ≤ 0: ctx alone bounds the probe.
	Timeout time.Duration
	// SourceAddr is the local IP to connect from; nil lets the system choose.
	SourceAddr net.IP
	// TLSConfig overrides the TLS settings; nil verifies against the system
	// roots, as Vigil does.
	TLSConfig *tls.Config
	// Now gives the cache buster's time and the time certificate expiry is
	// judged at; nil means time.Now.
	Now func() time.Time
	// ExpirySick, when > 0, makes an otherwise healthy https result sick when
	// the server's leaf certificate expires within it (poll_tls_expiry_sick_days).
	ExpirySick time.Duration

	once   sync.Once
	client *http.Client
}

// MaxRedirects is how many redirects a probe with FollowRedirects follows,
// as browsers and curl's common settings do; a chain longer than that is
// most likely a loop.
const MaxRedirects = 10

// MaxBody is how much of a response body is read for BodyMatch. A health
// endpoint that answers more than this is judged on its first MaxBody bytes.
const MaxBody = 1 << 20

// Probe sends one request, and with FollowRedirects those its redirects ask for.
func (h *HTTP) Probe(ctx context.Context) Result {
	h.once.Do(h.init)
	method := h.method()
	// What the reason names: the configured URL without password, cache buster or fragment.
	op := method + " " + shownURL(h.URL)

	ctx, cancel := withTimeout(ctx, h.Timeout)
	defer cancel()
	var body io.Reader
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.requestURL(), body)
	if err != nil {
		return dead(0, op+": "+err.Error())
	}
	if h.UserAgent != "" {
		req.Header.Set("User-Agent", h.UserAgent)
	} else {
		req.Header["User-Agent"] = nil // keep net/http from adding Go-http-client
	}
	for name, values := range h.Header {
		req.Header[http.CanonicalHeaderKey(name)] = slices.Clone(values)
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host // net/http sends req.Host and ignores a Host header
	}

	client := h.client
	var hop *url.URL // the last redirect target requested; nil while there was none
	if h.FollowRedirects {
		// A client of this probe's own, so that the chain it records is
		// this probe's even when probes of one replica overlap; it is a
		// few words, the transport it shares is the costly part.
		client = &http.Client{
			Transport: h.client.Transport,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				// via holds the requests made so far: the first plus one per redirect followed.
				if len(via) > MaxRedirects {
					return errTooManyRedirects
				}
				hop = req.URL
				return nil
			},
		}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and the URL, cache buster included
		}
		// As for TCP, the cause alone: a "dial tcp 10.0.0.3:80: connect:"
		// prefix would repeat the target, and public reasons must not name it.
		return dead(time.Since(start), op+": "+netErrorText(ctx, err, h.Timeout)+atURL(hop))
	}
	defer resp.Body.Close()

	above, below := h.HealthyAbove, h.HealthyBelow
	if above == 0 && below == 0 {
		above, below = 200, 400
	}
	if resp.StatusCode < above || resp.StatusCode >= below {
		return dead(time.Since(start), fmt.Sprintf("%s: status %d%s, want %d–%d", op, resp.StatusCode, atURL(hop), above, below-1))
	}
	if h.BodyMatch == nil {
		return h.healthy(op, hop, resp, time.Since(start))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	latency := time.Since(start)
	if err != nil {
		return dead(latency, op+": reading body"+atURL(hop)+": "+errorText(ctx, err, h.Timeout))
	}
	truncated := len(b) > MaxBody
	if truncated {
		b = b[:MaxBody]
	}
	if !h.BodyMatch.Match(b) {
		reason := fmt.Sprintf("%s: body%s does not match %q", op, atURL(hop), h.BodyMatch.String())
		if truncated {
			reason += " in its first " + strconv.Itoa(MaxBody>>20) + " MiB"
		}
		return dead(latency, reason)
	}
	return h.healthy(op, hop, resp, latency)
}

// errTooManyRedirects ends a chain longer than MaxRedirects. The reason adds
// where it stopped: "stopped after 10 redirects at http://example.com/r10".
var errTooManyRedirects = errors.New("stopped after " + strconv.Itoa(MaxRedirects) + " redirects")

// shownURL is how a reason names a URL: without password or fragment.
func shownURL(u *url.URL) string {
	shown := *u
	shown.Fragment, shown.RawFragment = "", ""
	return shown.Redacted()
}

// atURL names in a reason the URL that answered after redirects, " at
// https://example.com/final", or nothing when none was followed, so that a
// reason without redirects reads as it always has.
func atURL(hop *url.URL) string {
	if hop == nil {
		return ""
	}
	return " at " + shownURL(hop)
}

// healthy returns the result of a response that passed every check: sick
// instead when it came over TLS with a certificate that expires within
// ExpirySick. The transport has verified the chain at real time; expiry is
// judged at Now, the monitor's clock. After redirects it is the final
// response's certificate, the one whose server answered.
func (h *HTTP) healthy(op string, hop *url.URL, resp *http.Response, latency time.Duration) Result {
	if resp.TLS != nil {
		if reason := certExpiry(*resp.TLS, h.now(), h.ExpirySick); reason != "" {
			return Result{Health: status.Sick, Latency: latency, Reason: op + ": " + reason + atURL(hop)}
		}
	}
	return Result{Health: status.Healthy, Latency: latency}
}

// now returns the probe's clock, with time.Now as the default.
func (h *HTTP) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// method returns the request method, with Vigil's default.
func (h *HTTP) method() string {
	switch {
	case h.Method != "":
		return h.Method
	case h.BodyMatch != nil:
		return http.MethodGet
	}
	return http.MethodHead
}

// requestURL returns the URL to request, with Vigil's cache buster: the Unix
// time in seconds as a query of its own ("?1700000000") or appended to the
// existing one ("&1700000000"). Vigil appends it to the raw string, so it
// lands inside a #fragment and never reaches the server; here it goes into
// the query, where it was meant to be (and net/http never sends a fragment).
func (h *HTTP) requestURL() string {
	u := *h.URL
	if h.NoCacheBuster {
		return u.String()
	}
	ts := strconv.FormatInt(h.now().Unix(), 10)
	if u.RawQuery == "" {
		u.RawQuery = ts
	} else {
		u.RawQuery += "&" + ts
	}
	return u.String()
}

// UserAgent is the User-Agent probes send, naming the status page that
// checks the target so that its operators can tell who calls: "vigil
// (+<page_url>)", as Vigil sends.
func UserAgent(pageURL string) string { return "vigil (+" + pageURL + ")" }

// init builds the client, which follows no redirect; Probe makes its own
// when FollowRedirects is set. Probes share a transport per source address
// and TLS setting (see sharedTransport); keep-alives are off, so between
// probes a transport holds no connection, and every probe measures a fresh
// connect and handshake to the target, as Vigil's does.
func (h *HTTP) init() {
	h.client = &http.Client{
		Transport: sharedTransport(h.SourceAddr, h.TLSConfig),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// transportKey tells apart the transports probes may share.
type transportKey struct {
	source string
	tls    *tls.Config
}

// transports holds one transport per source address and TLS setting.
// Probes open a fresh connection each time (keep-alives off), so sharing a
// transport changes nothing on the wire, and thousands of replicas cost
// one transport rather than one each.
var transports sync.Map // transportKey → *http.Transport

func sharedTransport(source net.IP, tlsConfig *tls.Config) *http.Transport {
	key := transportKey{tls: tlsConfig}
	if source != nil {
		key.source = source.String()
	}
	if t, ok := transports.Load(key); ok {
		return t.(*http.Transport)
	}
	dialer := &net.Dialer{}
	if source != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: source}
	}
	t, _ := transports.LoadOrStore(key, &http.Transport{
		Proxy:              http.ProxyFromEnvironment, // as Vigil's HTTP client does
		DialContext:        dialer.DialContext,
		TLSClientConfig:    tlsConfig,
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	})
	return t.(*http.Transport)
}
