package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/testkit/requires"
)

// queueAnswers serves the management API's queue endpoint from a list of
// canned answers, one per request, the last one repeated. It returns the
// server, what it received and how many requests it got.
func queueAnswers(t *testing.T, answers ...string) (*httptest.Server, *seen, *atomic.Int32) {
	t.Helper()
	var s seen
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		i := int(n.Add(1)) - 1
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answers[min(i, len(answers)-1)])
	}))
	t.Cleanup(ts.Close)
	return ts, &s, &n
}

// counts is a queue answer carrying the two figures Vigil reads, among
// others the management API sends.
func counts(ready, unacked uint64) string {
	return fmt.Sprintf(`{"name":"jobs","vhost":"/","messages":%d,"messages_ready":%d,"messages_unacknowledged":%d,"consumers":0}`,
		ready+unacked, ready, unacked)
}

// wide are thresholds nothing reaches in the tests that do not test them.
var wide = QueueThresholds{ReadyHealthyBelow: 1000, NackHealthyBelow: 1000, ReadyDeadAbove: 5000, NackDeadAbove: 5000}

func TestRabbitMQRequest(t *testing.T) {
	ts, s, _ := queueAnswers(t, counts(7, 3))
	r := &RabbitMQ{
		// Query, fragment and user info of api_url are not sent; the
		// credentials are Username and Password.
		APIURL:      mustURL(t, strings.Replace(ts.URL, "http://", "http://urluser:urlpass@", 1)+"/base/?x=1#top"),
		Username:    "vigil",
		Password:    "s3cret",
		VirtualHost: "%2F",
		Timeout:     10 * time.Second,
		UserAgent:   "vigil (+https://status.example.com/)",
	}
	got := r.Check(context.Background(), "jobs", wide)
	want := QueueResult{Ready: 7, Unacked: 3, OK: true}
	if got != want {
		t.Errorf("Check() = %+v, want %+v", got, want)
	}
	req := s.last(t)
	if req.Method != http.MethodGet || req.RequestURI != "/base/api/queues/%2F/jobs" {
		t.Errorf("request = %s %s, want GET /base/api/queues/%%2F/jobs", req.Method, req.RequestURI)
	}
	hr := &http.Request{Header: req.Header}
	if user, pass, ok := hr.BasicAuth(); !ok || user != "vigil" || pass != "s3cret" {
		t.Errorf("Basic auth = %q, %q, %v, want vigil, s3cret, true", user, pass, ok)
	}
	if ua := req.Header.Get("User-Agent"); ua != r.UserAgent {
		t.Errorf("User-Agent = %q, want %q", ua, r.UserAgent)
	}
}

func TestRabbitMQNoUserAgent(t *testing.T) {
	ts, s, _ := queueAnswers(t, counts(0, 0))
	r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second}
	if got := r.Check(context.Background(), "jobs", wide); !got.OK {
		t.Fatalf("Check() = %+v, want OK", got)
	}
	if ua, ok := s.last(t).Header["User-Agent"]; ok {
		t.Errorf("User-Agent = %q, want none", ua)
	}
}

func TestRabbitMQPath(t *testing.T) {
	for _, tt := range []struct {
		base, vhost, queue string
		want               string
	}{
		{"", "%2F", "jobs", "/api/queues/%2F/jobs"},
		{"/", "%2f", "jobs", "/api/queues/%2f/jobs"},
		{"/rabbitmq", "%2F", "jobs", "/rabbitmq/api/queues/%2F/jobs"},
		{"/rabbitmq/", "%2F", "jobs", "/rabbitmq/api/queues/%2F/jobs"},
		{"/a%20b/", "%2F", "jobs", "/a%20b/api/queues/%2F/jobs"},
		// Written escapes are kept, never escaped twice.
		{"", "my%2Fvhost", "app%2Fjobs", "/api/queues/my%2Fvhost/app%2Fjobs"},
		// What cannot stand in a segment is escaped, so a raw "/" vhost works.
		{"", "/", "jobs", "/api/queues/%2F/jobs"},
		{"", "prod", "app/jobs", "/api/queues/prod/app%2Fjobs"},
		{"", "prod", "a b+c?d#e", "/api/queues/prod/a%20b%2Bc%3Fd%23e"},
		{"", "prod", "100%", "/api/queues/prod/100%25"},
		{"", "prod", "%zz", "/api/queues/prod/%25zz"},
		{"", "prod", "file.v2_x-y~z", "/api/queues/prod/file.v2_x-y~z"},
		{"", "prod", "..", "/api/queues/prod/%2E%2E"},
		{"", "prod", "tâche", "/api/queues/prod/t%C3%A2che"},
	} {
		ts, s, _ := queueAnswers(t, counts(0, 0))
		r := &RabbitMQ{APIURL: mustURL(t, ts.URL+tt.base), VirtualHost: tt.vhost, Timeout: 10 * time.Second}
		if got := r.Check(context.Background(), tt.queue, wide); !got.OK {
			t.Errorf("base %q, vhost %q, queue %q: Check() = %+v, want OK", tt.base, tt.vhost, tt.queue, got)
			continue
		}
		if got := s.last(t).RequestURI; got != tt.want {
			t.Errorf("base %q, vhost %q, queue %q: requested %s, want %s", tt.base, tt.vhost, tt.queue, got, tt.want)
		}
	}
}

func TestRabbitMQThresholds(t *testing.T) {
	th := QueueThresholds{ReadyHealthyBelow: 100, NackHealthyBelow: 10, ReadyDeadAbove: 1000, NackDeadAbove: 50}
	for _, tt := range []struct {
		ready, unacked uint64
		want           QueueResult
	}{
		{0, 0, QueueResult{OK: true}},
		{99, 9, QueueResult{Ready: 99, Unacked: 9, OK: true}},
		{100, 0, QueueResult{Ready: 100, Loaded: true, OK: true, Reason: "queue jobs: 100 ready ≥ 100"}},
		{120, 0, QueueResult{Ready: 120, Loaded: true, OK: true, Reason: "queue jobs: 120 ready ≥ 100"}},
		{0, 10, QueueResult{Unacked: 10, Loaded: true, OK: true, Reason: "queue jobs: 10 unacked ≥ 10"}},
		{120, 12, QueueResult{Ready: 120, Unacked: 12, Loaded: true, OK: true,
			Reason: "queue jobs: 120 ready ≥ 100, 12 unacked ≥ 10"}},
		{1000, 50, QueueResult{Ready: 1000, Unacked: 50, Loaded: true, OK: true,
			Reason: "queue jobs: 1000 ready ≥ 100, 50 unacked ≥ 10"}},
		{1001, 0, QueueResult{Ready: 1001, Loaded: true, Stalled: true, OK: true, Reason: "queue jobs: 1001 ready > 1000"}},
		{0, 51, QueueResult{Unacked: 51, Loaded: true, Stalled: true, OK: true, Reason: "queue jobs: 51 unacked > 50"}},
		{2000, 60, QueueResult{Ready: 2000, Unacked: 60, Loaded: true, Stalled: true, OK: true,
			Reason: "queue jobs: 2000 ready > 1000, 60 unacked > 50"}},
		// Counts beyond 32 bits are read whole.
		{1 << 40, 0, QueueResult{Ready: 1 << 40, Loaded: true, Stalled: true, OK: true,
			Reason: "queue jobs: 1099511627776 ready > 1000"}},
	} {
		ts, _, _ := queueAnswers(t, counts(tt.ready, tt.unacked))
		r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second}
		if got := r.Check(context.Background(), "jobs", th); got != tt.want {
			t.Errorf("Check(%d ready, %d unacked) = %+v, want %+v", tt.ready, tt.unacked, got, tt.want)
		}
	}
	// Thresholds of 0 make every queue loaded, as in Vigil.
	ts, _, _ := queueAnswers(t, counts(0, 0))
	r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second}
	got := r.Check(context.Background(), "jobs", QueueThresholds{ReadyDeadAbove: 1, NackDeadAbove: 1})
	if want := (QueueResult{Loaded: true, OK: true, Reason: "queue jobs: 0 ready ≥ 0, 0 unacked ≥ 0"}); got != want {
		t.Errorf("Check() with zero thresholds = %+v, want %+v", got, want)
	}
}

func TestRabbitMQLoadedRecheck(t *testing.T) {
	th := QueueThresholds{ReadyHealthyBelow: 10, NackHealthyBelow: 10, ReadyDeadAbove: 100, NackDeadAbove: 100}
	for _, tt := range []struct {
		name         string
		answers      []string
		delay        time.Duration
		want         QueueResult
		wantRequests int32
	}{
		{"burst gone", []string{counts(50, 0), counts(0, 0)}, 10 * time.Millisecond,
			QueueResult{OK: true}, 2},
		{"still loaded", []string{counts(50, 0), counts(60, 0)}, 10 * time.Millisecond,
			QueueResult{Ready: 60, Loaded: true, OK: true, Reason: "queue jobs: 60 ready ≥ 10"}, 2},
		{"stalled by then", []string{counts(50, 0), counts(500, 0)}, 10 * time.Millisecond,
			QueueResult{Ready: 500, Loaded: true, Stalled: true, OK: true, Reason: "queue jobs: 500 ready > 100"}, 2},
		{"second answer fails", []string{counts(50, 0), `{}`}, 10 * time.Millisecond,
			QueueResult{Reason: "answer has no messages_ready"}, 2},
		{"no delay set", []string{counts(50, 0), counts(0, 0)}, 0,
			QueueResult{Ready: 50, Loaded: true, OK: true, Reason: "queue jobs: 50 ready ≥ 10"}, 1},
		{"not loaded", []string{counts(5, 0), counts(50, 0)}, 10 * time.Millisecond,
			QueueResult{Ready: 5, OK: true}, 1},
		{"stalled first", []string{counts(500, 0), counts(0, 0)}, 10 * time.Millisecond,
			QueueResult{OK: true}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, _, n := queueAnswers(t, tt.answers...)
			r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second, RetryDelay: tt.delay}
			got := r.Check(context.Background(), "jobs", th)
			if strings.HasPrefix(tt.want.Reason, "answer") {
				// A failure names the request; compare its end only.
				if !strings.HasSuffix(got.Reason, "/api/queues/%2F/jobs: answer has no messages_ready and messages_unacknowledged (statistics not collected yet, or disabled)") {
					t.Errorf("Check().Reason = %q, want the missing counts named", got.Reason)
				}
				got.Reason = tt.want.Reason
			}
			if got != tt.want {
				t.Errorf("Check() = %+v, want %+v", got, tt.want)
			}
			if got := n.Load(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestRabbitMQRecheckCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A bare server, so the test can see the client close its connection:
	// it does so once it has read the whole answer, and only then is the
	// caller made to give up, while the loaded queue waits for its re-check.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var n atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				body := counts(50, 0)
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				io.Copy(io.Discard, conn) // until the client hangs up
			}
			conn.Close()
			cancel()
		}
	}()
	// A delay no test run waits out: only ctx can end the wait.
	r := &RabbitMQ{APIURL: mustURL(t, "http://"+ln.Addr().String()), VirtualHost: "%2F",
		Timeout: 10 * time.Second, RetryDelay: time.Hour}
	got := r.Check(ctx, "jobs", QueueThresholds{ReadyHealthyBelow: 10, NackHealthyBelow: 10, ReadyDeadAbove: 100, NackDeadAbove: 100})
	want := QueueResult{Reason: "queue jobs: 50 ready ≥ 10; re-check after 3600s not made: canceled"}
	if got != want {
		t.Errorf("Check() = %+v, want %+v", got, want)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestRabbitMQFailedAnswers(t *testing.T) {
	for _, tt := range []struct {
		name       string
		code       int
		body       string
		wantReason string // after "GET <url>: "
	}{
		{"not found", 404, `{"error":"Object Not Found","reason":"Not Found"}`,
			"status 404 (queue or vhost not found): Not Found"},
		{"unauthorized", 401, `{"error":"not_authorized","reason":"Login failed"}`,
			"status 401 (check auth_username and auth_password; the user needs the management tag): Login failed"},
		{"forbidden", 403, ``, "status 403 (the user may not read this vhost)"},
		{"server error", 500, `<html>oops</html>`, "status 500"},
		{"long reason left out", 500, `{"reason":"` + strings.Repeat("x", 201) + `"}`, "status 500"},
		{"not JSON", 200, `<html>login</html>`, "decoding answer: invalid character '<' looking for beginning of value"},
		{"truncated JSON", 200, `{"messages_ready":1`, "decoding answer: unexpected end of JSON input"},
		{"negative count", 200, `{"messages_ready":-1,"messages_unacknowledged":0}`,
			"decoding answer: json: cannot unmarshal number -1 into Go struct field .messages_ready of type uint64"},
		{"no counts", 200, `{"name":"jobs","vhost":"/","state":"running"}`,
			"answer has no messages_ready and messages_unacknowledged (statistics not collected yet, or disabled)"},
		{"one count", 200, `{"messages_ready":3}`,
			"answer has no messages_ready and messages_unacknowledged (statistics not collected yet, or disabled)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second, RetryDelay: time.Hour}
			got := r.Check(context.Background(), "jobs", QueueThresholds{})
			want := QueueResult{Reason: "GET " + ts.URL + "/api/queues/%2F/jobs: " + tt.wantReason}
			if got != want {
				t.Errorf("Check() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRabbitMQNoRedirect(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/elsewhere" {
			io.WriteString(w, counts(0, 0))
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer ts.Close()
	r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second}
	got := r.Check(context.Background(), "jobs", wide)
	if want := (QueueResult{Reason: "GET " + ts.URL + "/api/queues/%2F/jobs: status 302"}); got != want {
		t.Errorf("Check() = %+v, want %+v", got, want)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("requests = %d, want 1 (redirect not followed)", got)
	}
}

func TestRabbitMQConnectionRefused(t *testing.T) {
	addr := closedPort(t)
	r := &RabbitMQ{APIURL: mustURL(t, "http://"+addr), Username: "guest", Password: "hunter2secret",
		VirtualHost: "%2F", Timeout: 10 * time.Second}
	got := r.Check(context.Background(), "jobs", wide)
	wantStart := "GET http://" + addr + "/api/queues/%2F/jobs: dial tcp " + addr + ": connect: connection refused"
	if got.OK || got.Loaded || got.Stalled || got.Reason != wantStart {
		t.Errorf("Check() = %+v, want not OK with reason %q", got, wantStart)
	}
}

func TestRabbitMQTimeout(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer ts.Close()
	r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 50 * time.Millisecond}
	got := r.Check(context.Background(), "jobs", wide)
	if want := (QueueResult{Reason: "GET " + ts.URL + "/api/queues/%2F/jobs: timeout after 50ms"}); got != want {
		t.Errorf("Check() = %+v, want %+v", got, want)
	}
}

func TestRabbitMQSourceAddr(t *testing.T) {
	ts, s, _ := queueAnswers(t, counts(0, 0))
	src := loopbackSource(t)
	r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second, SourceAddr: src}
	if got := r.Check(context.Background(), "jobs", wide); !got.OK {
		t.Fatalf("Check() = %+v, want OK", got)
	}
	host, _, _ := net.SplitHostPort(s.last(t).RemoteAddr)
	if host != src.String() {
		t.Errorf("request came from %s, want %s", host, src)
	}
}

func TestRabbitMQConcurrentChecks(t *testing.T) {
	ts, _, n := queueAnswers(t, counts(3, 1))
	r := &RabbitMQ{APIURL: mustURL(t, ts.URL), VirtualHost: "%2F", Timeout: 10 * time.Second}
	results := make(chan QueueResult)
	for range 8 {
		go func() { results <- r.Check(context.Background(), "jobs", wide) }()
	}
	for range 8 {
		if got, want := <-results, (QueueResult{Ready: 3, Unacked: 1, OK: true}); got != want {
			t.Errorf("Check() = %+v, want %+v", got, want)
		}
	}
	if got := n.Load(); got != 8 {
		t.Errorf("requests = %d, want 8", got)
	}
}

// The real RabbitMQ server on 127.0.0.1, with its management plugin.

const (
	rabbitAPI   = "http://127.0.0.1:15672"
	rabbitUser  = "guest"
	rabbitPass  = "guest"
	rabbitVHost = "%2F"
)

func TestRabbitMQServer(t *testing.T) {
	needRabbitMQ(t)
	api := mustURL(t, rabbitAPI)
	check := func(t *testing.T, queue string, th QueueThresholds) QueueResult {
		t.Helper()
		r := &RabbitMQ{APIURL: api, Username: rabbitUser, Password: rabbitPass, VirtualHost: rabbitVHost,
			Timeout: 10 * time.Second, UserAgent: "vigil (+http://status.test/)"}
		return r.Check(context.Background(), queue, th)
	}

	t.Run("empty queue is healthy", func(t *testing.T) {
		t.Parallel()
		q := declareQueue(t)
		waitReady(t, q, 0)
		got := check(t, q, QueueThresholds{ReadyHealthyBelow: 1, NackHealthyBelow: 1, ReadyDeadAbove: 1, NackDeadAbove: 1})
		if want := (QueueResult{OK: true}); got != want {
			t.Errorf("Check(%s) = %+v, want %+v", q, got, want)
		}
	})

	t.Run("filled queue", func(t *testing.T) {
		t.Parallel()
		q := declareQueue(t)
		publish(t, q, 5)
		waitReady(t, q, 5)
		for _, tt := range []struct {
			th   QueueThresholds
			want QueueResult
		}{
			// Healthy: below both limits.
			{QueueThresholds{ReadyHealthyBelow: 6, NackHealthyBelow: 1, ReadyDeadAbove: 10, NackDeadAbove: 10},
				QueueResult{Ready: 5, OK: true}},
			// Loaded (sick): ready ≥ the healthy limit, not above the dead one.
			{QueueThresholds{ReadyHealthyBelow: 5, NackHealthyBelow: 1, ReadyDeadAbove: 5, NackDeadAbove: 10},
				QueueResult{Ready: 5, Loaded: true, OK: true, Reason: "queue " + q + ": 5 ready ≥ 5"}},
			{QueueThresholds{ReadyHealthyBelow: 3, NackHealthyBelow: 1, ReadyDeadAbove: 10, NackDeadAbove: 10},
				QueueResult{Ready: 5, Loaded: true, OK: true, Reason: "queue " + q + ": 5 ready ≥ 3"}},
			// Stalled (dead): ready above the dead limit.
			{QueueThresholds{ReadyHealthyBelow: 3, NackHealthyBelow: 1, ReadyDeadAbove: 4, NackDeadAbove: 10},
				QueueResult{Ready: 5, Loaded: true, Stalled: true, OK: true, Reason: "queue " + q + ": 5 ready > 4"}},
		} {
			if got := check(t, q, tt.th); got != tt.want {
				t.Errorf("Check(%s, %+v) = %+v, want %+v", q, tt.th, got, tt.want)
			}
		}
	})

	t.Run("loaded re-check", func(t *testing.T) {
		t.Parallel()
		q := declareQueue(t)
		publish(t, q, 2)
		waitReady(t, q, 2)
		r := &RabbitMQ{APIURL: api, Username: rabbitUser, Password: rabbitPass, VirtualHost: rabbitVHost,
			Timeout: 10 * time.Second, RetryDelay: 10 * time.Millisecond}
		got := r.Check(context.Background(), q, QueueThresholds{ReadyHealthyBelow: 2, NackHealthyBelow: 1, ReadyDeadAbove: 10, NackDeadAbove: 10})
		if want := (QueueResult{Ready: 2, Loaded: true, OK: true, Reason: "queue " + q + ": 2 ready ≥ 2"}); got != want {
			t.Errorf("Check(%s) = %+v, want %+v", q, got, want)
		}
	})

	t.Run("unknown queue", func(t *testing.T) {
		t.Parallel()
		q := uniqueQueueName()
		got := check(t, q, wide)
		want := QueueResult{Reason: "GET " + rabbitAPI + "/api/queues/%2F/" + q + ": status 404 (queue or vhost not found): Not Found"}
		if got != want {
			t.Errorf("Check(%s) = %+v, want %+v", q, got, want)
		}
	})

	t.Run("unknown vhost", func(t *testing.T) {
		t.Parallel()
		q := declareQueue(t)
		r := &RabbitMQ{APIURL: api, Username: rabbitUser, Password: rabbitPass, VirtualHost: "vigil-no-such-vhost",
			Timeout: 10 * time.Second}
		got := r.Check(context.Background(), q, wide)
		if got.OK || !strings.Contains(got.Reason, "/api/queues/vigil-no-such-vhost/"+q+": status 404 (queue or vhost not found)") {
			t.Errorf("Check(%s) = %+v, want not OK with a 404 reason", q, got)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		q := declareQueue(t)
		const password = "not-the-guest-password-7731"
		r := &RabbitMQ{APIURL: api, Username: rabbitUser, Password: password, VirtualHost: rabbitVHost,
			Timeout: 10 * time.Second}
		got := r.Check(context.Background(), q, wide)
		wantStart := "GET " + rabbitAPI + "/api/queues/%2F/" + q + ": status 401 (check auth_username and auth_password"
		if got.OK || got.Loaded || got.Stalled || got.Ready != 0 || !strings.HasPrefix(got.Reason, wantStart) {
			t.Errorf("Check(%s) = %+v, want not OK, reason starting %q", q, got, wantStart)
		}
		if strings.Contains(got.Reason, password) {
			t.Errorf("Check(%s).Reason = %q, shows the password", q, got.Reason)
		}
	})

	t.Run("path prefix kept", func(t *testing.T) {
		t.Parallel()
		q := declareQueue(t)
		publish(t, q, 3)
		waitReady(t, q, 3)
		var s seen
		proxy := prefixProxy(t, "/rabbitmq", &s)
		for _, base := range []string{proxy.URL + "/rabbitmq", proxy.URL + "/rabbitmq/"} {
			r := &RabbitMQ{APIURL: mustURL(t, base), Username: rabbitUser, Password: rabbitPass,
				VirtualHost: rabbitVHost, Timeout: 10 * time.Second}
			got := r.Check(context.Background(), q, wide)
			if want := (QueueResult{Ready: 3, OK: true}); got != want {
				t.Errorf("APIURL %s: Check(%s) = %+v, want %+v", base, q, got, want)
			}
			if got, want := s.last(t).RequestURI, "/rabbitmq/api/queues/%2F/"+q; got != want {
				t.Errorf("APIURL %s: proxy received %s, want %s", base, got, want)
			}
		}
	})
}

// prefixProxy serves the management API under prefix, as a reverse proxy
// in front of RabbitMQ would, and answers 404 to every path outside it.
func prefixProxy(t *testing.T, prefix string, s *seen) *httptest.Server {
	t.Helper()
	target := mustURL(t, rabbitAPI)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = target.Scheme, target.Host, target.Host
		pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, prefix)
		pr.Out.URL.RawPath = strings.TrimPrefix(pr.In.URL.RawPath, prefix)
	}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// uniqueQueueName returns a queue name no other test run uses.
func uniqueQueueName() string {
	return fmt.Sprintf("vigil-probe-test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// declareQueue creates a transient queue through the management API and
// deletes it when the test ends.
func declareQueue(t *testing.T) string {
	t.Helper()
	q := uniqueQueueName()
	code, body := mgmt(t, http.MethodPut, "/api/queues/%2F/"+q, `{"durable":false,"auto_delete":false}`)
	if code != http.StatusCreated && code != http.StatusNoContent {
		t.Fatalf("declaring queue %s: status %d: %s", q, code, body)
	}
	t.Cleanup(func() {
		if code, body := mgmt(t, http.MethodDelete, "/api/queues/%2F/"+q, ""); code != http.StatusNoContent {
			t.Errorf("deleting queue %s: status %d: %s", q, code, body)
		}
	})
	return q
}

// publish puts n messages on queue through the default exchange.
func publish(t *testing.T, queue string, n int) {
	t.Helper()
	msg, _ := json.Marshal(map[string]any{
		"properties": map[string]any{}, "routing_key": queue, "payload": "x", "payload_encoding": "string",
	})
	for range n {
		code, body := mgmt(t, http.MethodPost, "/api/exchanges/%2F/amq.default/publish", string(msg))
		if code != http.StatusOK || !bytes.Contains(body, []byte(`"routed":true`)) {
			t.Fatalf("publishing to %s: status %d: %s", queue, code, body)
		}
	}
}

// waitReady waits until the management API shows queue holding n ready
// messages. Its figures come from statistics collected every few seconds
// (collect_statistics_interval, 5 s by default), not from the queue itself.
func waitReady(t *testing.T, queue string, n uint64) {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		code, body := mgmt(t, http.MethodGet, "/api/queues/%2F/"+queue, "")
		last = body
		var q struct {
			Ready *uint64 `json:"messages_ready"`
		}
		if code == http.StatusOK && json.Unmarshal(body, &q) == nil && q.Ready != nil && *q.Ready == n {
			return
		}
	}
	t.Fatalf("queue %s did not show %d ready messages within 30s; last answer: %.300s", queue, n, last)
}

// mgmt sends one request to the management API as guest.
func mgmt(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rabbitAPI+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(rabbitUser, rabbitPass)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// needRabbitMQ checks that RabbitMQ answers on 127.0.0.1 with its
// management API, as scripts/test leaves it. Without it the test is
// skipped, or fails where scripts/test says it must be there.
func needRabbitMQ(t *testing.T) {
	t.Helper()
	if managementAnswers() {
		return
	}
	broker := "the broker does not listen on 127.0.0.1:5672 either"
	if brokerAnswers() {
		broker = "the broker listens on 127.0.0.1:5672: enable the rabbitmq_management plugin"
	}
	requires.RabbitMQ.Missing(t, "no answer from %s/api/overview as %s; %s", rabbitAPI, rabbitUser, broker)
}

// managementAnswers reports whether the management API answers as guest.
func managementAnswers() bool {
	req, _ := http.NewRequest(http.MethodGet, rabbitAPI+"/api/overview", nil)
	req.SetBasicAuth(rabbitUser, rabbitPass)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// brokerAnswers reports whether the AMQP port accepts connections.
func brokerAnswers() bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:5672", 5*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
