package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// seen records what a test server received.
type seen struct {
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	Method, RequestURI, Host, Body, RemoteAddr string
	Header                                     http.Header
	ProtoMajor                                 int
}

func (s *seen) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, seenRequest{
		Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Body: string(b),
		RemoteAddr: r.RemoteAddr, Header: r.Header.Clone(), ProtoMajor: r.ProtoMajor,
	})
}

func (s *seen) all() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.reqs...)
}

func (s *seen) last(t *testing.T) seenRequest {
	t.Helper()
	all := s.all()
	if len(all) == 0 {
		t.Fatal("the server received no request")
	}
	return all[len(all)-1]
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// fixedNow is the cache buster's clock in tests: 2023-11-14 22:13:20 UTC.
func fixedNow() time.Time { return time.Unix(1700000000, 0) }

func TestHTTPStatusRange(t *testing.T) {
	for _, tt := range []struct {
		code          int
		above, below  int
		want          status.Health
		wantReasonEnd string
	}{
		{code: 200, want: status.Healthy},
		{code: 204, want: status.Healthy},
		{code: 302, want: status.Healthy}, // not followed: judged as is
		{code: 399, want: status.Healthy},
		{code: 400, want: status.Dead, wantReasonEnd: ": status 400, want 200–399"},
		{code: 503, want: status.Dead, wantReasonEnd: ": status 503, want 200–399"},
		{code: 201, above: 202, below: 300, want: status.Dead, wantReasonEnd: ": status 201, want 202–299"},
		{code: 503, above: 500, below: 600, want: status.Healthy},
		{code: 200, above: 300, below: 400, want: status.Dead, wantReasonEnd: ": status 200, want 300–399"},
		{code: 404, above: 200, below: 404, want: status.Dead, wantReasonEnd: ": status 404, want 200–403"},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.code/100 == 3 {
				w.Header().Set("Location", "/elsewhere") // would be 500 if followed
			}
			if r.URL.Path == "/elsewhere" {
				tt.code = 500
			}
			w.WriteHeader(tt.code)
		}))
		h := &HTTP{URL: mustURL(t, ts.URL+"/health"), HealthyAbove: tt.above, HealthyBelow: tt.below, Timeout: 10 * time.Second}
		got := h.Probe(context.Background())
		ts.Close()
		if got.Health != tt.want {
			t.Errorf("status %d, range [%d,%d): Health = %v (%q), want %v", tt.code, tt.above, tt.below, got.Health, got.Reason, tt.want)
		}
		if tt.want == status.Healthy && got.Reason != "" {
			t.Errorf("status %d: Reason = %q, want empty", tt.code, got.Reason)
		}
		if wantReason := "HEAD " + ts.URL + "/health" + tt.wantReasonEnd; tt.wantReasonEnd != "" && got.Reason != wantReason {
			t.Errorf("status %d: Reason = %q, want %q", tt.code, got.Reason, wantReason)
		}
		if got.Latency <= 0 {
			t.Errorf("status %d: Latency = %v, want > 0", tt.code, got.Latency)
		}
	}
}

func TestHTTPRequest(t *testing.T) {
	const ua = "vigil (+https://status.example.com/)"
	for _, tt := range []struct {
		name     string
		h        *HTTP
		path     string
		check    func(t *testing.T, r seenRequest)
		wantMeth string
	}{
		{
			name:     "HEAD by default, with the Vigil user agent and no gzip",
			h:        &HTTP{UserAgent: ua},
			wantMeth: "HEAD",
			check: func(t *testing.T, r seenRequest) {
				if got := r.Header.Get("User-Agent"); got != ua {
					t.Errorf("User-Agent = %q, want %q", got, ua)
				}
				if got := r.Header.Get("Accept-Encoding"); got != "" {
					t.Errorf("Accept-Encoding = %q, want none", got)
				}
				if got := r.Header.Get("Connection"); got != "close" {
					t.Errorf("Connection = %q, want close (no keep-alive)", got)
				}
			},
		},
		{
			name:     "GET when a body regex is set, still without gzip",
			h:        &HTTP{BodyMatch: regexp.MustCompile("ok")},
			wantMeth: "GET",
			check: func(t *testing.T, r seenRequest) {
				if got := r.Header.Get("Accept-Encoding"); got != "" {
					t.Errorf("Accept-Encoding = %q, want none", got)
				}
			},
		},
		{
			name:     "no user agent at all when none is given",
			h:        &HTTP{},
			wantMeth: "HEAD",
			check: func(t *testing.T, r seenRequest) {
				if got, ok := r.Header["User-Agent"]; ok {
					t.Errorf("User-Agent = %q, want none", got)
				}
			},
		},
		{
			name: "node headers are added and replace the defaults",
			h: &HTTP{UserAgent: ua, Header: http.Header{
				"User-Agent":    {"custom/1.0"},
				"Authorization": {"Bearer abc"},
				"X-Multi":       {"a", "b"},
				"Host":          {"virtual.example"},
			}},
			wantMeth: "HEAD",
			check: func(t *testing.T, r seenRequest) {
				if got := r.Header.Values("User-Agent"); len(got) != 1 || got[0] != "custom/1.0" {
					t.Errorf("User-Agent = %q, want [custom/1.0]", got)
				}
				if got := r.Header.Get("Authorization"); got != "Bearer abc" {
					t.Errorf("Authorization = %q, want %q", got, "Bearer abc")
				}
				if got := r.Header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
					t.Errorf("X-Multi = %q, want [a b]", got)
				}
				if r.Host != "virtual.example" {
					t.Errorf("Host = %q, want virtual.example", r.Host)
				}
			},
		},
		{
			name:     "POST sends the body",
			h:        &HTTP{Method: "POST", Body: `{"ping":1}`},
			wantMeth: "POST",
			check: func(t *testing.T, r seenRequest) {
				if r.Body != `{"ping":1}` {
					t.Errorf("body = %q, want %q", r.Body, `{"ping":1}`)
				}
			},
		},
		{
			name:     "PATCH sends an empty body with its length",
			h:        &HTTP{Method: "PATCH"},
			wantMeth: "PATCH",
			check: func(t *testing.T, r seenRequest) {
				if got := r.Header.Get("Content-Length"); got != "0" {
					t.Errorf("Content-Length = %q, want 0", got)
				}
			},
		},
		{
			name:     "GET does not send the body",
			h:        &HTTP{Method: "GET", Body: "ignored"},
			wantMeth: "GET",
			check: func(t *testing.T, r seenRequest) {
				if r.Body != "" {
					t.Errorf("body = %q, want none", r.Body)
				}
			},
		},
		{
			name:     "cache buster as the query",
			h:        &HTTP{Now: fixedNow},
			path:     "/health",
			wantMeth: "HEAD",
			check: func(t *testing.T, r seenRequest) {
				if r.RequestURI != "/health?1700000000" {
					t.Errorf("RequestURI = %q, want /health?1700000000", r.RequestURI)
				}
			},
		},
		{
			name:     "cache buster after a query, before a fragment",
			h:        &HTTP{Now: fixedNow},
			path:     "/health?deep=1#section",
			wantMeth: "HEAD",
			check: func(t *testing.T, r seenRequest) {
				if r.RequestURI != "/health?deep=1&1700000000" {
					t.Errorf("RequestURI = %q, want /health?deep=1&1700000000", r.RequestURI)
				}
			},
		},
		{
			name:     "no cache buster",
			h:        &HTTP{Now: fixedNow, NoCacheBuster: true},
			path:     "/health?deep=1",
			wantMeth: "HEAD",
			check: func(t *testing.T, r seenRequest) {
				if r.RequestURI != "/health?deep=1" {
					t.Errorf("RequestURI = %q, want /health?deep=1", r.RequestURI)
				}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.record(r)
				io.WriteString(w, "ok")
			}))
			defer ts.Close()
			path := tt.path
			if path == "" {
				path = "/"
			}
			h := tt.h
			h.URL = mustURL(t, ts.URL+path)
			h.Timeout = 10 * time.Second
			if got := h.Probe(context.Background()); got.Health != status.Healthy {
				t.Fatalf("Probe() = %+v, want healthy", got)
			}
			r := s.last(t)
			if r.Method != tt.wantMeth {
				t.Errorf("method = %s, want %s", r.Method, tt.wantMeth)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestHTTPBodyMatch(t *testing.T) {
	big := strings.Repeat("x", MaxBody) + "ok"
	for _, tt := range []struct {
		name       string
		body       string
		method     string
		re         string
		want       status.Health
		wantReason string // after "GET <url>: "
	}{
		{name: "match anywhere", body: `{"status":"ok","db":"up"}`, re: `"db":"up"`, want: status.Healthy},
		{name: "no match", body: "maintenance", re: "ok", want: status.Dead, wantReason: `body does not match "ok"`},
		{name: "beyond the read limit", body: big, re: "ok", want: status.Dead, wantReason: `body does not match "ok" in its first 1 MiB`},
		{name: "HEAD matches the empty body", method: "HEAD", body: "ignored", re: "^$", want: status.Healthy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			h := &HTTP{URL: mustURL(t, ts.URL+"/"), Method: tt.method, BodyMatch: regexp.MustCompile(tt.re), NoCacheBuster: true, Timeout: 10 * time.Second}
			got := h.Probe(context.Background())
			if got.Health != tt.want {
				t.Fatalf("Probe() = %+v, want %v", got, tt.want)
			}
			if tt.wantReason != "" {
				if want := "GET " + ts.URL + "/: " + tt.wantReason; got.Reason != want {
					t.Errorf("Reason = %q, want %q", got.Reason, want)
				}
			}
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.WriteHeader(200)
			io.WriteString(w, "partial ")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)

	for _, tt := range []struct {
		name string
		h    *HTTP
		want string
	}{
		{name: "no response", h: &HTTP{URL: mustURL(t, ts.URL+"/slow")}, want: "HEAD " + ts.URL + "/slow: timeout after 200ms"},
		{name: "slow body", h: &HTTP{URL: mustURL(t, ts.URL+"/slow-body"), BodyMatch: regexp.MustCompile("never")}, want: "GET " + ts.URL + "/slow-body: reading body: timeout after 200ms"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			h.Timeout = 200 * time.Millisecond
			got := h.Probe(context.Background())
			if got.Health != status.Dead || got.Reason != tt.want {
				t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, tt.want)
			}
			if got.Latency < 200*time.Millisecond {
				t.Errorf("Latency = %v, want at least the timeout", got.Latency)
			}
		})
	}
}

func TestHTTPCanceled(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	h := &HTTP{URL: mustURL(t, ts.URL+"/"), Timeout: time.Minute}
	got := h.Probe(ctx)
	if want := "HEAD " + ts.URL + "/: canceled"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	addr := closedPort(t)
	h := &HTTP{URL: mustURL(t, "http://"+addr+"/"), Timeout: 10 * time.Second}
	got := h.Probe(context.Background())
	if want := "HEAD http://" + addr + "/: connection refused"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
}

func TestHTTPRedactsPassword(t *testing.T) {
	var s seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		w.WriteHeader(500)
	}))
	defer ts.Close()
	u := mustURL(t, ts.URL+"/private")
	u.User = url.UserPassword("admin", "hunter2")
	h := &HTTP{URL: u, Timeout: 10 * time.Second}
	got := h.Probe(context.Background())
	if got.Health != status.Dead || strings.Contains(got.Reason, "hunter2") {
		t.Errorf("Probe() = %v %q, want dead without the password", got.Health, got.Reason)
	}
	if user, pass, ok := (&http.Request{Header: s.last(t).Header}).BasicAuth(); !ok || user != "admin" || pass != "hunter2" {
		t.Errorf("server saw basic auth %q:%q (%v), want the URL's credentials", user, pass, ok)
	}

	// Also when the connection fails, where net/http's own error names the URL.
	u = mustURL(t, "http://"+closedPort(t)+"/")
	u.User = url.UserPassword("admin", "hunter2")
	h = &HTTP{URL: u, Timeout: 10 * time.Second}
	if got := h.Probe(context.Background()); strings.Contains(got.Reason, "hunter2") {
		t.Errorf("Reason = %q, want no password", got.Reason)
	}
}

func TestHTTPFreshConnectionPerProbe(t *testing.T) {
	var s seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	defer ts.Close()
	h := &HTTP{URL: mustURL(t, ts.URL+"/"), Timeout: 10 * time.Second}
	for range 3 {
		if got := h.Probe(context.Background()); got.Health != status.Healthy {
			t.Fatalf("Probe() = %+v, want healthy", got)
		}
	}
	ports := map[string]bool{}
	for _, r := range s.all() {
		ports[r.RemoteAddr] = true
	}
	if len(ports) != 3 {
		t.Errorf("3 probes came from %d connections (%v), want 3", len(ports), ports)
	}
}

func TestHTTPS(t *testing.T) {
	var s seen
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	defer ts.Close()

	// The test certificate is not in the system roots: dead, and the reason says why.
	h := &HTTP{URL: mustURL(t, ts.URL+"/"), Timeout: 10 * time.Second}
	got := h.Probe(context.Background())
	if got.Health != status.Dead || !strings.Contains(got.Reason, "certificate") {
		t.Errorf("untrusted certificate: Probe() = %v %q, want dead naming the certificate", got.Health, got.Reason)
	}

	roots := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h = &HTTP{URL: mustURL(t, ts.URL+"/"), Timeout: 10 * time.Second, TLSConfig: &tls.Config{RootCAs: roots}}
	for range 2 {
		if got := h.Probe(context.Background()); got.Health != status.Healthy {
			t.Fatalf("trusted certificate: Probe() = %+v, want healthy", got)
		}
	}
	if got := s.last(t).ProtoMajor; got != 2 {
		t.Errorf("protocol HTTP/%d, want HTTP/2 where the server offers it", got)
	}
}

func TestHTTPSCertificateExpiry(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer ts.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	tlsConfig := &tls.Config{RootCAs: roots}
	nearExpiry := at(ts.Certificate().NotAfter.Add(-9*24*time.Hour - time.Hour))
	const window = 14 * 24 * time.Hour
	for _, tt := range []struct {
		name       string
		h          *HTTP
		want       status.Health
		wantReason string
	}{
		{
			name: "https, expiring within the window", h: &HTTP{URL: mustURL(t, ts.URL+"/health"), ExpirySick: window, Now: nearExpiry},
			want: status.Sick, wantReason: "HEAD " + ts.URL + "/health: certificate expires in 9 days (2084-01-29 16:00 UTC)",
		},
		{
			name: "https, body matched, expiring within the window", h: &HTTP{URL: mustURL(t, ts.URL+"/"), BodyMatch: regexp.MustCompile("ok"), ExpirySick: window, Now: nearExpiry},
			want: status.Sick, wantReason: "GET " + ts.URL + "/: certificate expires in 9 days (2084-01-29 16:00 UTC)",
		},
		{
			name: "https, body not matched: dead for the body", h: &HTTP{URL: mustURL(t, ts.URL+"/"), BodyMatch: regexp.MustCompile("never"), ExpirySick: window, Now: nearExpiry},
			want: status.Dead, wantReason: "GET " + ts.URL + `/: body does not match "never"`,
		},
		{name: "https, expiry not judged", h: &HTTP{URL: mustURL(t, ts.URL+"/"), Now: nearExpiry}, want: status.Healthy},
		{name: "https, far from expiry", h: &HTTP{URL: mustURL(t, ts.URL+"/"), ExpirySick: window}, want: status.Healthy},
		{name: "plain http", h: &HTTP{URL: mustURL(t, plain.URL+"/"), ExpirySick: window, Now: nearExpiry}, want: status.Healthy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			h.TLSConfig = tlsConfig
			h.NoCacheBuster = true
			h.Timeout = 10 * time.Second
			got := h.Probe(context.Background())
			if got.Health != tt.want || got.Reason != tt.wantReason {
				t.Errorf("Probe() = %v %q, want %v %q", got.Health, got.Reason, tt.want, tt.wantReason)
			}
		})
	}
}

func TestHTTPSourceAddr(t *testing.T) {
	var s seen
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.record(r) }))
	defer ts.Close()
	src := loopbackSource(t)
	h := &HTTP{URL: mustURL(t, ts.URL+"/"), Timeout: 10 * time.Second, SourceAddr: src}
	if got := h.Probe(context.Background()); got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	host, _, _ := net.SplitHostPort(s.last(t).RemoteAddr)
	if host != src.String() {
		t.Errorf("request came from %s, want %s", host, src)
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// loopbackSource returns a loopback address other than 127.0.0.1 to connect
// from, so a test can tell that SourceAddr was used.
func loopbackSource(t *testing.T) net.IP {
	t.Helper()
	src := net.IPv4(127, 0, 0, 2)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: src})
	if err != nil {
		t.Skipf("cannot bind %s here: %v", src, err)
	}
	ln.Close()
	return src
}

// redirectChain serves /chain/N as a redirect to /chain/N-1, with the codes
// of redirects taking turns, and /chain/0 with final. It records every
// request it receives.
func redirectChain(t *testing.T, s *seen, final http.HandlerFunc) *httptest.Server {
	t.Helper()
	codes := []int{301, 302, 303, 307, 308}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/chain/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n == 0 {
			final(w, r)
			return
		}
		w.Header().Set("Location", "/chain/"+strconv.Itoa(n-1))
		w.WriteHeader(codes[n%len(codes)])
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestHTTPFollowRedirects(t *testing.T) {
	var s seen
	ts := redirectChain(t, &s, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) })
	h := &HTTP{
		URL:             mustURL(t, ts.URL+"/chain/3"),
		FollowRedirects: true,
		BodyMatch:       regexp.MustCompile(`"ok"`),
		UserAgent:       "vigil (+https://status.example.com/)",
		Header:          http.Header{"Authorization": {"Bearer abc"}},
		Now:             fixedNow,
		Timeout:         10 * time.Second,
	}
	if got := h.Probe(context.Background()); got.Health != status.Healthy || got.Reason != "" || got.Latency <= 0 {
		t.Fatalf("Probe() = %+v, want healthy after the redirects", got)
	}
	reqs := s.all()
	var uris []string
	for _, r := range reqs {
		uris = append(uris, r.RequestURI)
		// Same host all along, so net/http keeps the node's headers.
		if r.Header.Get("User-Agent") != h.UserAgent || r.Header.Get("Authorization") != "Bearer abc" {
			t.Errorf("%s: User-Agent %q, Authorization %q; want the node's on every hop", r.RequestURI, r.Header.Get("User-Agent"), r.Header.Get("Authorization"))
		}
	}
	// The cache buster is on the configured URL only; Locations are followed as written.
	if want := []string{"/chain/3?1700000000", "/chain/2", "/chain/1", "/chain/0"}; !slices.Equal(uris, want) {
		t.Errorf("requests = %q, want %q", uris, want)
	}

	// A HEAD stays a HEAD through every kind of redirect, as net/http does.
	h = &HTTP{URL: mustURL(t, ts.URL+"/chain/5"), FollowRedirects: true, Timeout: 10 * time.Second}
	if got := h.Probe(context.Background()); got.Health != status.Healthy {
		t.Fatalf("HEAD Probe() = %+v, want healthy", got)
	}
	if r := s.last(t); r.Method != "HEAD" || r.RequestURI != "/chain/0" {
		t.Errorf("last request = %s %s, want HEAD /chain/0", r.Method, r.RequestURI)
	}
}

func TestHTTPFollowRedirectsMethod(t *testing.T) {
	var s seen
	ts := redirectChain(t, &s, func(w http.ResponseWriter, r *http.Request) {})
	// /chain/4 answers 308, /chain/3 307, /chain/2 303, /chain/1 302.
	h := &HTTP{URL: mustURL(t, ts.URL+"/chain/4"), Method: "POST", Body: "ping", FollowRedirects: true, NoCacheBuster: true, Timeout: 10 * time.Second}
	if got := h.Probe(context.Background()); got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	var got []string
	for _, r := range s.all() {
		got = append(got, r.Method+" "+r.RequestURI+" "+r.Body)
	}
	// 307 and 308 repeat the POST and its body; 303 (and 301, 302) turn it into a GET.
	want := []string{"POST /chain/4 ping", "POST /chain/3 ping", "POST /chain/2 ping", "GET /chain/1 ", "GET /chain/0 "}
	if !slices.Equal(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

func TestHTTPFollowRedirectsReason(t *testing.T) {
	var s seen
	ts := redirectChain(t, &s, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("body") != "" {
			io.WriteString(w, "maintenance")
			return
		}
		w.WriteHeader(503)
	})
	refused := closedPort(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/to-final", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ts.URL+"/chain/1", http.StatusFound)
	})
	mux.HandleFunc("/to-body", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ts.URL+"/chain/0?body=1#frag", http.StatusFound)
	})
	mux.HandleFunc("/to-closed", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+refused+"/gone", http.StatusFound)
	})
	first := httptest.NewServer(mux)
	defer first.Close()

	for _, tt := range []struct {
		path string
		re   string
		want string
	}{
		{path: "/to-final", want: "HEAD " + first.URL + "/to-final: status 503 at " + ts.URL + "/chain/0, want 200–399"},
		{path: "/to-body", re: "ok", want: "GET " + first.URL + "/to-body: body at " + ts.URL + `/chain/0?body=1 does not match "ok"`},
		{path: "/to-closed", want: "HEAD " + first.URL + "/to-closed: connection refused at http://" + refused + "/gone"},
	} {
		h := &HTTP{URL: mustURL(t, first.URL+tt.path), FollowRedirects: true, Timeout: 10 * time.Second}
		if tt.re != "" {
			h.BodyMatch = regexp.MustCompile(tt.re)
		}
		got := h.Probe(context.Background())
		if got.Health != status.Dead || got.Reason != tt.want {
			t.Errorf("%s: Probe() = %v %q, want dead %q", tt.path, got.Health, got.Reason, tt.want)
		}
	}
}

func TestHTTPFollowRedirectsLimit(t *testing.T) {
	var s seen
	ts := redirectChain(t, &s, func(w http.ResponseWriter, r *http.Request) {})
	// Exactly MaxRedirects redirects: followed to the healthy page.
	h := &HTTP{URL: mustURL(t, ts.URL+"/chain/10"), FollowRedirects: true, NoCacheBuster: true, Timeout: 10 * time.Second}
	if got := h.Probe(context.Background()); got.Health != status.Healthy {
		t.Errorf("10 redirects: Probe() = %+v, want healthy", got)
	}
	// One more is dead, and the reason says where it stopped.
	h = &HTTP{URL: mustURL(t, ts.URL+"/chain/11"), FollowRedirects: true, NoCacheBuster: true, Timeout: 10 * time.Second}
	got := h.Probe(context.Background())
	if want := "HEAD " + ts.URL + "/chain/11: stopped after 10 redirects at " + ts.URL + "/chain/1"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("11 redirects: Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}

	// A loop is dead the same way, after the first request and 10 redirects.
	var loops seen
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loops.record(r)
		next := map[string]string{"/a": "/b", "/b": "/a"}[r.URL.Path]
		http.Redirect(w, r, next, http.StatusMovedPermanently)
	}))
	defer loop.Close()
	h = &HTTP{URL: mustURL(t, loop.URL+"/a"), FollowRedirects: true, Timeout: 10 * time.Second}
	got = h.Probe(context.Background())
	if want := "HEAD " + loop.URL + "/a: stopped after 10 redirects at " + loop.URL + "/a"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("loop: Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
	if n := len(loops.all()); n != 1+MaxRedirects {
		t.Errorf("loop: %d requests, want %d", n, 1+MaxRedirects)
	}
}

func TestHTTPNoFollowRedirects(t *testing.T) {
	var s seen
	ts := redirectChain(t, &s, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	// /chain/5 answers 301 to a chain ending in a dead page: judged as a status, as in Vigil.
	h := &HTTP{URL: mustURL(t, ts.URL+"/chain/5"), NoCacheBuster: true, Timeout: 10 * time.Second}
	if got := h.Probe(context.Background()); got.Health != status.Healthy || got.Reason != "" {
		t.Errorf("Probe() = %+v, want healthy: 301 is in 200–399", got)
	}
	h = &HTTP{URL: mustURL(t, ts.URL+"/chain/5"), NoCacheBuster: true, HealthyAbove: 200, HealthyBelow: 300, Timeout: 10 * time.Second}
	if got, want := h.Probe(context.Background()), "HEAD "+ts.URL+"/chain/5: status 301, want 200–299"; got.Health != status.Dead || got.Reason != want {
		t.Errorf("Probe() = %v %q, want dead %q", got.Health, got.Reason, want)
	}
	if n := len(s.all()); n != 2 {
		t.Errorf("the server saw %d requests, want 2: the redirect must not be followed", n)
	}
}

func TestHTTPFollowRedirectsOtherHost(t *testing.T) {
	var s seen
	other := redirectChain(t, &s, func(w http.ResponseWriter, r *http.Request) {})
	_, port, _ := net.SplitHostPort(other.Listener.Addr().String())
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+port+"/chain/0", http.StatusFound)
	}))
	defer first.Close()
	h := &HTTP{
		URL:             mustURL(t, first.URL+"/"),
		FollowRedirects: true,
		Header:          http.Header{"Authorization": {"Bearer abc"}, "X-Trace": {"1"}, "Host": {"virtual.example"}},
		Timeout:         10 * time.Second,
	}
	if got := h.Probe(context.Background()); got.Health != status.Healthy {
		t.Fatalf("Probe() = %+v, want healthy", got)
	}
	// Credentials stay with the configured host, and a Host override with
	// the configured URL; other headers go along.
	r := s.last(t)
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Trace") != "1" || r.Host != "localhost:"+port {
		t.Errorf("redirected request: Authorization %q, X-Trace %q, Host %q; want none, 1, localhost:%s",
			r.Header.Get("Authorization"), r.Header.Get("X-Trace"), r.Host, port)
	}
}
