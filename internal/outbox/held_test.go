package outbox

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// sickStore is a real store that can be made to refuse every call, hang
// every call until its deadline, or commit an Enqueue and then report a
// failure (as a commit whose answer was lost does).
type sickStore struct {
	*store.Store
	mu   sync.Mutex
	mode string // "", "refuse", "hang", "lie"
	// failDelivered makes MarkDelivered refuse while the rest works.
	failDelivered bool
	calls         int // calls made while sick
}

var errRefused = errors.New("connection refused (test)")

func (s *sickStore) set(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
}

// sick fails the call as the mode says; it reports whether it did.
func (s *sickStore) sick(ctx context.Context) (string, error) {
	s.mu.Lock()
	mode := s.mode
	if mode != "" {
		s.calls++
	}
	s.mu.Unlock()
	switch mode {
	case "refuse":
		return mode, errRefused
	case "hang":
		<-ctx.Done()
		return mode, ctx.Err()
	}
	return mode, nil
}

func (s *sickStore) Enqueue(ctx context.Context, entries []store.OutboxEntry) (int, error) {
	mode, err := s.sick(ctx)
	if mode == "lie" {
		s.Store.Enqueue(ctx, entries)
		return 0, errors.New("connection reset after commit (test)")
	}
	if err != nil {
		return 0, err
	}
	return s.Store.Enqueue(ctx, entries)
}

func (s *sickStore) Due(ctx context.Context, channel string, now time.Time, limit int) ([]store.OutboxEntry, error) {
	if mode, err := s.sick(ctx); err != nil || mode == "lie" {
		return nil, errors.Join(err, errRefused)
	}
	return s.Store.Due(ctx, channel, now, limit)
}

func (s *sickStore) MarkDelivered(ctx context.Context, id string, t time.Time) error {
	s.mu.Lock()
	refuse := s.failDelivered
	s.mu.Unlock()
	if refuse {
		return errRefused
	}
	if _, err := s.sick(ctx); err != nil {
		return err
	}
	return s.Store.MarkDelivered(ctx, id, t)
}

func (s *sickStore) MarkFailed(ctx context.Context, id, errText string, next time.Time) error {
	if _, err := s.sick(ctx); err != nil {
		return err
	}
	return s.Store.MarkFailed(ctx, id, errText, next)
}

// TestStoreUnavailableDeliversFromMemory makes the store refuse, hang, or
// lose the answer of a committed write while an alert is queued: the alert
// is delivered from memory at once, exactly once, and once the store
// answers again it holds the message as delivered, and the log said when
// durability was lost and when it came back.
func TestStoreUnavailableDeliversFromMemory(t *testing.T) {
	for _, mode := range []string{"refuse", "hang", "lie"} {
		t.Run(mode, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			chs := build(t, &notify.Webhook{HookURL: srv.URL + "/hook"})
			st := &sickStore{Store: openStore(t, "")}
			w, logs := start(t, st, chs, func(o *Options) { o.StoreTimeout = 50 * time.Millisecond })

			st.set(mode)
			begin := time.Now()
			n, err := w.Enqueue(context.Background(), items("a1", chs, message(notify.Changed, status.Dead, "web:core:a")))
			if err != nil || n != 1 {
				t.Fatalf("Enqueue with the store sick = %d, %v; want 1, nil", n, err)
			}
			if took := time.Since(begin); took > 2*time.Second {
				t.Errorf("Enqueue took %v with the store sick, want about the store timeout", took)
			}
			waitFor(t, "delivery from memory", func() bool { a, _ := rec.got(); return len(a) == 1 })
			// A recovery queued while the store is still sick goes after it.
			if _, err := w.Enqueue(context.Background(), items("a2", chs, message(notify.Changed, status.Healthy))); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the recovery from memory", func() bool { a, _ := rec.got(); return len(a) == 2 })
			if !strings.Contains(logs.String(), "without durability") {
				t.Errorf("no warning that notifications are not durable:\n%s", logs)
			}

			st.set("")
			waitFor(t, "the held messages written", func() bool { return strings.Contains(logs.String(), "durable again") })
			settle()
			accepted, _ := rec.got()
			if len(accepted) != 2 || !strings.Contains(accepted[0], `"status":"dead"`) || !strings.Contains(accepted[1], `"status":"healthy"`) {
				t.Fatalf("accepted = %q, want dead then healthy, once each", accepted)
			}
			for _, id := range []string{"a1/webhook/", "a2/webhook/"} {
				if e := entryState(t, st.Store, id); e.State != store.Delivered {
					t.Errorf("entry %s after the store came back: %+v, want delivered", id, e)
				}
			}
		})
	}
}

// TestHeldRetriesAndHandsOver keeps the store down while the channel fails
// too: the worker retries from memory, and when the store comes back the
// undelivered message becomes an outbox entry that is delivered once the
// channel works.
func TestHeldRetriesAndHandsOver(t *testing.T) {
	rec := &recorder{}
	rec.set(func() { rec.hang = true })
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL + "/hook"})
	st := &sickStore{Store: openStore(t, "")}
	w, _ := start(t, st, chs, func(o *Options) { o.StoreTimeout = 50 * time.Millisecond })
	st.set("refuse")
	if _, err := w.Enqueue(context.Background(), items("a1", chs, message(notify.Changed, status.Dead, "web:core:a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two attempts from memory", func() bool { _, n := rec.got(); return n >= 2 })
	st.set("")
	waitFor(t, "the message written as pending", func() bool {
		e, err := st.OutboxEntry(context.Background(), "a1/webhook/")
		return err == nil && e.State == store.Pending
	})
	rec.set(func() { rec.hang = false })
	waitFor(t, "delivery from the store", func() bool { a, _ := rec.got(); return len(a) == 1 })
	settle()
	if a, _ := rec.got(); len(a) != 1 {
		t.Errorf("accepted %d times, want once", len(a))
	}
	if e := entryState(t, st.Store, "a1/webhook/"); e.State != store.Delivered {
		t.Errorf("entry %+v, want delivered", e)
	}
}

// TestUnrecordedDeliveryIsNotSentAgain sends a message whose delivery the
// store then refuses to record: it is not sent again, and is recorded as
// delivered once the store accepts.
func TestUnrecordedDeliveryIsNotSentAgain(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL + "/hook"})
	st := &sickStore{Store: openStore(t, "")}
	st.failDelivered = true
	w, _ := start(t, st, chs, func(o *Options) {
		o.StoreTimeout = 50 * time.Millisecond
		o.PollEvery = 20 * time.Millisecond // the store worker reads Due often: a resend would show
	})
	if _, err := w.Enqueue(context.Background(), items("a1", chs, message(notify.Changed, status.Dead, "web:core:a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { a, _ := rec.got(); return len(a) == 1 })
	settle()
	st.mu.Lock()
	st.failDelivered = false
	st.mu.Unlock()
	waitFor(t, "the delivery recorded", func() bool {
		e, err := st.OutboxEntry(context.Background(), "a1/webhook/")
		return err == nil && e.State == store.Delivered
	})
	if a, _ := rec.got(); len(a) != 1 {
		t.Errorf("accepted %d times, want once", len(a))
	}
}

// TestHeldIsBounded holds more messages than MaxHeld: the oldest
// undelivered are given up with an error each, the newest kept.
func TestHeldIsBounded(t *testing.T) {
	h := newHeld(2)
	at := time.Unix(1000, 0)
	var dropped []store.OutboxEntry
	for _, id := range []string{"a", "b", "c"} {
		_, d := h.add([]store.OutboxEntry{{ID: id, Channel: "webhook", CreatedAt: at}}, time.Time{})
		dropped = append(dropped, d...)
	}
	if len(dropped) != 1 || dropped[0].ID != "a" || h.len() != 2 || h.has("a") || !h.has("c") {
		t.Fatalf("dropped %+v, holding %d; want a dropped, b and c kept", dropped, h.len())
	}
	// Per target, in order: b goes first, and c waits while b is out.
	e, _ := h.next("webhook", at)
	if e == nil || e.ID != "b" {
		t.Fatalf("next = %+v, want b", e)
	}
	if e2, _ := h.next("webhook", at); e2 != nil {
		t.Fatalf("next while b is being sent = %s, want nothing (same target)", e2.ID)
	}
	h.done(e, time.Time{}, at.Add(time.Minute), "503")
	if e2, retry := h.next("webhook", at); e2 != nil || !retry.Equal(at.Add(time.Minute)) {
		t.Fatalf("next while b waits for its retry = %v, %v; want nothing until %v", e2, retry, at.Add(time.Minute))
	}
}

// racyStore lets a test stop a channel's read of due messages after it
// returned one id, until a condition holds.
type racyStore struct {
	*sickStore
	mu      sync.Mutex
	id      string        // the message the read must hold on to
	readIt  chan struct{} // closed once a read returned it
	until   func() bool   // what the read waits for before returning
	beforeM func()        // runs at the start of MarkDelivered(id)
}

func (s *racyStore) Due(ctx context.Context, channel string, now time.Time, limit int) ([]store.OutboxEntry, error) {
	due, err := s.sickStore.Due(ctx, channel, now, limit)
	s.mu.Lock()
	id, readIt, until := s.id, s.readIt, s.until
	s.mu.Unlock()
	for _, e := range due {
		if id != "" && e.ID == id && readIt != nil {
			s.mu.Lock()
			s.readIt = nil
			s.mu.Unlock()
			close(readIt)
			deadline := time.Now().Add(5 * time.Second)
			for !until() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
	}
	return due, err
}

func (s *racyStore) MarkDelivered(ctx context.Context, id string, t time.Time) error {
	s.mu.Lock()
	before := s.beforeM
	if id != s.id {
		before = nil
	}
	s.mu.Unlock()
	if before != nil {
		before()
	}
	return s.sickStore.MarkDelivered(ctx, id, t)
}

// A message sent from memory while the store was refusing is written back
// as pending, then marked delivered. A channel that read it as due in
// between, and looks at it only after memory let it go, must not send it
// again.
func TestHeldDeliveryNotSentAgainByADueRead(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	chs := build(t, &notify.Webhook{HookURL: srv.URL + "/hook"})
	st := &racyStore{sickStore: &sickStore{Store: openStore(t, "")}}
	w, _ := start(t, st, chs, func(o *Options) { o.StoreTimeout = 50 * time.Millisecond })

	st.set("refuse")
	if _, err := w.Enqueue(context.Background(), items("a1", chs, message(notify.Changed, status.Dead, "web:core:a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery from memory", func() bool { a, _ := rec.got(); return len(a) == 1 })

	readIt := make(chan struct{})
	st.mu.Lock()
	st.id, st.readIt = "a1/webhook/", readIt
	st.until = func() bool { return w.held.len() == 0 } // memory let it go
	st.beforeM = func() {
		// Written back as pending: let the channel read it now.
		w.wakeChannel("webhook")
		select {
		case <-readIt:
		case <-time.After(5 * time.Second):
			t.Error("the channel did not read the message back as due")
		}
	}
	st.mu.Unlock()
	st.set("")
	waitFor(t, "memory to let the message go", func() bool { return w.held.len() == 0 })
	settle()
	if accepted, _ := rec.got(); len(accepted) != 1 {
		t.Fatalf("accepted %d times, want once: %q", len(accepted), accepted)
	}
	if e := entryState(t, st.Store, "a1/webhook/"); e.State != store.Delivered {
		t.Errorf("entry = %q, want delivered", e.State)
	}
}
