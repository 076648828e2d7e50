package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// recorder is a loopback HTTP server standing in for a channel's API. Its
// behaviour can be switched while deliveries are retried.
type recorder struct {
	mu sync.Mutex
	// fail, when set, says how to answer a request instead of accepting it:
	// a status code, or 0 to accept.
	fail func(r *http.Request, body []byte) int
	// hang, when set, blocks requests until the client gives up.
	hang     bool
	accepted []string // bodies of the requests answered 2xx, in order
	requests int
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.requests++
	hang, fail := rec.hang, rec.fail
	rec.mu.Unlock()
	if hang {
		<-r.Context().Done() // the client timed out: nothing was accepted
		return
	}
	if fail != nil {
		if code := fail(r, body); code != 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(code)
			return
		}
	}
	rec.mu.Lock()
	rec.accepted = append(rec.accepted, string(body))
	rec.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (rec *recorder) set(f func()) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	f()
}

func (rec *recorder) got() (accepted []string, requests int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.accepted), rec.requests
}

// openStore opens a new SQLite store in a temporary directory.
func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "vigil.db")
	}
	st, err := store.Open(context.Background(), store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// start runs a worker over channels until the test ends.
func start(t *testing.T, st Store, channels []notify.Channel, tune func(*Options)) (*Worker, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	o := Options{
		Store:      st,
		Channels:   channels,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 40 * time.Millisecond,
		PollEvery:  time.Second,
	}
	if tune != nil {
		tune(&o)
	}
	w := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, logs
}

// build returns the channels of n, with a short HTTP timeout so that a
// hanging server costs little time.
func build(t *testing.T, n ...notify.Section) []notify.Channel {
	t.Helper()
	chs, err := notify.Build(n, notify.Options{Client: &http.Client{Timeout: 300 * time.Millisecond}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return chs
}

func message(kind notify.Kind, h status.Health, dead ...string) notify.Message {
	return notify.Message{Kind: kind, Status: h, Time: "08:58:28 UTC+00:00", Dead: dead, PageTitle: "Test", PageURL: "https://status.example/"}
}

// items returns one item per target of every channel.
func items(id string, chs []notify.Channel, m notify.Message) []Item {
	var out []Item
	for _, ch := range chs {
		for _, tg := range ch.Targets {
			out = append(out, Item{ID: id + "/" + ch.Name + "/" + tg.Key, Channel: ch.Name, Target: tg.Key, Message: m})
		}
	}
	return out
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle gives a wrongly retrying worker the time to send a duplicate: many
// times the maximum backoff used by the tests.
func settle() { time.Sleep(300 * time.Millisecond) }

func entryState(t *testing.T, st *store.Store, id string) store.OutboxEntry {
	t.Helper()
	e, err := st.OutboxEntry(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFaultsDeliverExactlyOnce covers a channel answering 500 for a while,
// hanging past its timeout, and refusing connections: once it recovers, the
// alert arrives, exactly once.
func TestFaultsDeliverExactlyOnce(t *testing.T) {
	faults := []struct {
		name    string
		breakIt func(rec *recorder)
	}{
		{"500", func(rec *recorder) {
			rec.fail = func(*http.Request, []byte) int { return http.StatusInternalServerError }
		}},
		{"429", func(rec *recorder) {
			rec.fail = func(*http.Request, []byte) int { return http.StatusTooManyRequests }
		}},
		{"hang", func(rec *recorder) { rec.hang = true }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			rec := &recorder{}
			rec.set(func() { f.breakIt(rec) })
			srv := httptest.NewServer(rec)
			defer srv.Close()
			chs := build(t, &notify.Webhook{HookURL: srv.URL + "/hook"})
			st := openStore(t, "")
			w, logs := start(t, st, chs, nil)

			m := message(notify.Changed, status.Dead, "web:core:a")
			if n, err := w.Enqueue(context.Background(), items("a1", chs, m)); err != nil || n != 1 {
				t.Fatalf("Enqueue = %d, %v; want 1, nil", n, err)
			}
			waitFor(t, "three failed attempts", func() bool { _, n := rec.got(); return n >= 3 })
			if e := entryState(t, st, "a1/webhook/"); e.State != store.Pending || e.Attempts < 2 || e.LastError == "" {
				t.Errorf("while failing: entry %+v, want pending with failed attempts and their error", e)
			}
			rec.set(func() { rec.fail, rec.hang = nil, false })
			waitFor(t, "delivery", func() bool { a, _ := rec.got(); return len(a) > 0 })
			settle()
			accepted, _ := rec.got()
			if len(accepted) != 1 || !strings.Contains(accepted[0], `"type":"changed"`) || !strings.Contains(accepted[0], "web:core:a") {
				t.Errorf("accepted = %q, want the alert once", accepted)
			}
			// The delivery is recorded after the answer: on a busy machine,
			// perhaps after the settling time.
			waitFor(t, "the delivery recorded", func() bool { return entryState(t, st, "a1/webhook/").State == store.Delivered })
			if !strings.Contains(logs.String(), "will retry") {
				t.Errorf("failed attempts not logged:\n%s", logs)
			}
		})
	}
}

func TestConnectionRefusedThenUp(t *testing.T) {
	// Reserve a port, then leave nothing listening on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	chs := build(t, &notify.Slack{HookURL: "http://" + addr + "/services/T0/B0/secret-hook-path"})
	st := openStore(t, "")
	w, logs := start(t, st, chs, nil)
	if _, err := w.Enqueue(context.Background(), items("s1", chs, message(notify.Changed, status.Dead, "web:core:a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failed attempts", func() bool { return entryState(t, st, "s1/slack/").Attempts >= 3 })
	if e := entryState(t, st, "s1/slack/"); !strings.Contains(e.LastError, "refused") || strings.Contains(e.LastError, "secret-hook-path") {
		t.Errorf("last error = %q, want connection refused, without the hook URL", e.LastError)
	}
	if strings.Contains(logs.String(), "secret-hook-path") {
		t.Errorf("the hook URL leaked into the logs:\n%s", logs)
	}

	rec := &recorder{}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	srv := &http.Server{Handler: rec}
	go srv.Serve(ln)
	defer srv.Close()

	waitFor(t, "delivery", func() bool { a, _ := rec.got(); return len(a) > 0 })
	settle()
	if accepted, _ := rec.got(); len(accepted) != 1 || !strings.Contains(accepted[0], "Status changed to: *dead*") {
		t.Errorf("accepted = %q, want the Slack alert once", accepted)
	}
}

// TestOneTargetFailing: of two Twilio numbers, one fails for a while. The
// other gets the alert once, and is not sent it again when the first one's
// retries finally succeed.
func TestOneTargetFailing(t *testing.T) {
	rec := &recorder{}
	failing := true
	rec.fail = func(_ *http.Request, body []byte) int {
		form, _ := url.ParseQuery(string(body))
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if failing && form.Get("To") == "+2000" {
			return http.StatusBadGateway
		}
		return 0
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Twilio{
		To: []string{"+1000", "+2000"}, ServiceSID: "MG1", AccountSID: "AC1", AuthToken: "token-123456", APIURL: srv.URL + "/",
	})
	st := openStore(t, "")
	obs := &outcomes{}
	w, _ := start(t, st, chs, obs.tune)
	if _, err := w.Enqueue(context.Background(), items("t1", chs, message(notify.Changed, status.Dead, "web:core:a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retries of +2000", func() bool { return entryState(t, st, "t1/twilio/+2000").Attempts >= 3 })
	if n := obs.count(Delivered); n != 1 {
		t.Errorf("observed %d deliveries while +2000 fails, want 1", n)
	}
	if n := obs.count(Failed); n < 3 {
		t.Errorf("observed %d failed attempts, want at least 3", n)
	}
	if p := obs.lastPending("twilio"); p != 1 {
		t.Errorf("pending while +2000 fails = %d, want 1", p)
	}
	rec.set(func() { failing = false })
	waitFor(t, "delivery to +2000", func() bool { return entryState(t, st, "t1/twilio/+2000").State == store.Delivered })
	settle()
	if n, p := obs.count(Delivered), obs.lastPending("twilio"); n != 2 || p != 0 {
		t.Errorf("after recovery: %d deliveries observed, %d pending; want 2 and 0", n, p)
	}

	accepted, _ := rec.got()
	var to []string
	for _, b := range accepted {
		form, _ := url.ParseQuery(b)
		to = append(to, form.Get("To"))
	}
	slices.Sort(to)
	if want := []string{"+1000", "+2000"}; !slices.Equal(to, want) {
		t.Errorf("numbers that got the alert = %q, want each once: %q", to, want)
	}
}

// TestOrderPerTarget: messages queued while a channel is down arrive in
// the order they were queued.
func TestOrderPerTarget(t *testing.T) {
	rec := &recorder{}
	rec.fail = func(*http.Request, []byte) int { return http.StatusServiceUnavailable }
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL})
	st := openStore(t, "")
	w, _ := start(t, st, chs, nil)
	for i, h := range []status.Health{status.Dead, status.Healthy, status.Dead} {
		if _, err := w.Enqueue(context.Background(), items(fmt.Sprint("m", i), chs, message(notify.Changed, h))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "failed attempts", func() bool { _, n := rec.got(); return n >= 3 })
	rec.set(func() { rec.fail = nil })
	waitFor(t, "three deliveries", func() bool { a, _ := rec.got(); return len(a) >= 3 })
	settle()
	accepted, _ := rec.got()
	var got []string
	for _, b := range accepted {
		var p struct{ Status string }
		json.Unmarshal([]byte(b), &p)
		got = append(got, p.Status)
	}
	if want := []string{"dead", "healthy", "dead"}; !slices.Equal(got, want) {
		t.Errorf("statuses delivered = %q, want %q", got, want)
	}
}

// TestPermanentFailureIsGivenUp: a 4xx other than 429 cannot be fixed by
// retrying; the message is given up at once, with an error log, and the
// next one goes through.
func TestPermanentFailureIsGivenUp(t *testing.T) {
	rec := &recorder{}
	rec.fail = func(_ *http.Request, body []byte) int {
		if strings.Contains(string(body), `"status":"sick"`) {
			return http.StatusBadRequest
		}
		return 0
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL})
	st := openStore(t, "")
	obs := &outcomes{}
	w, logs := start(t, st, chs, obs.tune)
	if _, err := w.Enqueue(context.Background(), append(items("bad", chs, message(notify.Changed, status.Sick)),
		items("good", chs, message(notify.Changed, status.Dead))...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next message", func() bool { a, _ := rec.got(); return len(a) == 1 })
	settle()
	if _, n := rec.got(); n != 2 {
		t.Errorf("requests = %d, want 2 (the rejected message is not retried)", n)
	}
	if e := entryState(t, st, "bad/webhook/"); e.State != store.GivenUp || !strings.Contains(e.LastError, "400") {
		t.Errorf("rejected entry = %+v, want given up with the status", e)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"notification given up\"") {
		t.Errorf("no error log for the given-up message:\n%s", logs)
	}
	if g, d := obs.count(GivenUp), obs.count(Delivered); g != 1 || d != 1 {
		t.Errorf("observed %d given up and %d delivered, want 1 and 1", g, d)
	}
}

// TestTooOldIsGivenUp: a message that could not be delivered within MaxAge
// is given up with an error log.
func TestTooOldIsGivenUp(t *testing.T) {
	rec := &recorder{}
	rec.fail = func(*http.Request, []byte) int { return http.StatusInternalServerError }
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL})
	st := openStore(t, "")
	obs := &outcomes{}
	w, logs := start(t, st, chs, func(o *Options) { obs.tune(o); o.MaxAge = 500 * time.Millisecond })
	if _, err := w.Enqueue(context.Background(), items("old", chs, message(notify.Changed, status.Dead))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "give-up", func() bool { return entryState(t, st, "old/webhook/").State == store.GivenUp })
	if !strings.Contains(logs.String(), "not delivered in time") {
		t.Errorf("no error log for the expired message:\n%s", logs)
	}
	if g := obs.count(GivenUp); g != 1 {
		t.Errorf("observed %d given up, want 1", g)
	}
	rec.set(func() { rec.fail = nil })
	settle()
	if a, _ := rec.got(); len(a) != 0 {
		t.Errorf("a given-up message was delivered: %q", a)
	}
}

// TestEnqueueDoesNotWaitForDelivery: while a channel hangs, Enqueue returns
// after the write, and the other channels keep delivering.
func TestEnqueueDoesNotWaitForDelivery(t *testing.T) {
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer hanging.Close()
	defer close(release)
	rec := &recorder{}
	fine := httptest.NewServer(rec)
	defer fine.Close()

	chs, err := notify.Build([]notify.Section{
		&notify.Slack{HookURL: hanging.URL},
		&notify.Webhook{HookURL: fine.URL},
	}, notify.Options{Client: &http.Client{}}) // no client timeout: only AttemptTimeout ends the hang
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, "")
	w, _ := start(t, st, chs, func(o *Options) { o.AttemptTimeout = time.Hour })
	for i := range 5 {
		if _, err := w.Enqueue(context.Background(), items(fmt.Sprint("e", i), chs, message(notify.Changed, status.Dead))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the webhook deliveries", func() bool { a, _ := rec.got(); return len(a) == 5 })
	if e := entryState(t, st, "e0/slack/"); e.State != store.Pending {
		t.Errorf("hanging channel's entry = %q, want still pending", e.State)
	}
}

// TestRestartDeliversPending: what one worker could not deliver, the next
// one (after a restart, on the same database) does, once.
func TestRestartDeliversPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	rec := &recorder{}
	rec.fail = func(*http.Request, []byte) int { return http.StatusInternalServerError }
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL})

	st1, err := store.Open(context.Background(), store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	w1 := New(Options{Store: st1, Channels: chs, MinBackoff: time.Hour, PollEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w1.Run(ctx); close(done) }()
	if _, err := w1.Enqueue(context.Background(), items("r1", chs, message(notify.Changed, status.Dead))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", func() bool { _, n := rec.got(); return n == 1 })
	cancel()
	<-done
	st1.Close()

	rec.set(func() { rec.fail = nil })
	st2 := openStore(t, path)
	// The failed attempt asked for a retry in an hour; a restart after that
	// hour finds it due.
	start(t, st2, chs, func(o *Options) {
		o.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		o.MaxAge = 24 * time.Hour
	})
	waitFor(t, "delivery after restart", func() bool { a, _ := rec.got(); return len(a) == 1 })
	settle()
	if a, _ := rec.got(); len(a) != 1 {
		t.Errorf("accepted %d times, want once", len(a))
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 9; n++ {
		got = append(got, Backoff(n, 5*time.Second, 5*time.Minute))
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("Backoff = %v, want %v", got, want)
	}
}

// outcomes records what a worker tells its Observe and Pending hooks.
type outcomes struct {
	mu      sync.Mutex
	results map[Result]int
	pending map[string]int
}

func (o *outcomes) tune(opt *Options) {
	opt.Observe = func(_ string, r Result) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.results == nil {
			o.results = map[Result]int{}
		}
		o.results[r]++
	}
	opt.Pending = func(channel string, n int) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.pending == nil {
			o.pending = map[string]int{}
		}
		o.pending[channel] = n
	}
}

func (o *outcomes) count(r Result) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.results[r]
}

func (o *outcomes) lastPending(channel string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pending[channel]
}

// TestPendingCountsQueueBehindHangingTarget: 13 messages wait for a Slack
// hook that never answers. Due hands the worker only the first of them
// (one per target, in order), yet the gauge must say 13, not 1.
func TestPendingCountsQueueBehindHangingTarget(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	chs := build(t, &notify.Slack{HookURL: hang.URL + "/hook"})
	st := openStore(t, "")
	obs := &outcomes{}
	w, _ := start(t, st, chs, obs.tune)
	for i := range 13 {
		if _, err := w.Enqueue(context.Background(), items(fmt.Sprintf("h%02d", i), chs, message(notify.Changed, status.Dead, "web:core:a"))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two failed attempts", func() bool { return obs.count(Failed) >= 2 })
	if p := obs.lastPending("slack"); p != 13 {
		t.Errorf("pending behind a hanging target = %d, want 13", p)
	}
}
