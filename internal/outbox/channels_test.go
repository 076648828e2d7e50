package outbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// A reload replaces the channels while a message waits for its target:
// removed, the channel's message stays pending and nothing is sent; back
// (with new settings, as notify.Build makes them), it is delivered once.
func TestSetChannelsKeepsPendingMessages(t *testing.T) {
	rec := &recorder{}
	rec.set(func() { rec.fail = func(*http.Request, []byte) int { return http.StatusInternalServerError } })
	srv := httptest.NewServer(rec)
	defer srv.Close()
	st := openStore(t, "")
	w, logs := start(t, st, build(t, &notify.Webhook{HookURL: srv.URL + "/hook"}), nil)

	chs := build(t, &notify.Webhook{HookURL: srv.URL + "/hook"})
	if n, err := w.Enqueue(context.Background(), items("r1", chs, message(notify.Changed, status.Dead, "web:api:a"))); err != nil || n != 1 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	waitFor(t, "two failed attempts", func() bool { _, n := rec.got(); return n >= 2 })

	// The same channel, rebuilt, twice in a row while it fails: the
	// drainers hand over one after the other.
	w.SetChannels(build(t, &notify.Webhook{HookURL: srv.URL + "/hook"}))
	w.SetChannels(build(t, &notify.Webhook{HookURL: srv.URL + "/hook"}))
	_, before := rec.got()
	waitFor(t, "attempts after the reload", func() bool { _, n := rec.got(); return n > before })

	// Removed: nothing goes out, even once the target answers.
	w.SetChannels(nil)
	settle()
	_, removedAt := rec.got()
	rec.set(func() { rec.fail = nil })
	settle()
	if accepted, n := rec.got(); len(accepted) != 0 || n > removedAt+1 {
		t.Fatalf("removed channel still delivers: %d accepted, %d requests after removal", len(accepted), n-removedAt)
	}
	if e := entryState(t, st, "r1/webhook/"); e.State != store.Pending {
		t.Errorf("entry of the removed channel = %q, want still pending", e.State)
	}
	if !strings.Contains(logs.String(), "channel removed from the config") {
		t.Errorf("removal not logged:\n%s", logs)
	}

	// Back: delivered, exactly once.
	w.SetChannels(build(t, &notify.Webhook{HookURL: srv.URL + "/hook"}))
	waitFor(t, "delivery", func() bool { a, _ := rec.got(); return len(a) > 0 })
	settle()
	if accepted, _ := rec.got(); len(accepted) != 1 || !strings.Contains(accepted[0], "web:api:a") {
		t.Errorf("accepted = %q, want the alert once", accepted)
	}
	if e := entryState(t, st, "r1/webhook/"); e.State != store.Delivered {
		t.Errorf("entry = %q, want delivered", e.State)
	}
}

// A channel removed while its drainer is in the middle of a delivery, then
// added back before that delivery ends: the new drainer waits for the
// retired one, so the message goes out once, not once from each.
func TestChannelBackWhileRetiredDrainerSends(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var accepted, requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		if first {
			<-gate // the retired drainer's delivery, in flight across the reloads
		}
		mu.Lock()
		accepted++
		mu.Unlock()
	}))
	defer srv.Close()
	defer close(gate)
	counts := func() (int, int) { mu.Lock(); defer mu.Unlock(); return accepted, requests }
	channels := func() []notify.Channel {
		chs, err := notify.Build([]notify.Section{&notify.Webhook{HookURL: srv.URL + "/hook"}},
			notify.Options{Client: &http.Client{Timeout: 20 * time.Second}, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return chs
	}
	st := openStore(t, "")
	w, _ := start(t, st, channels(), nil)
	if _, err := w.Enqueue(context.Background(), items("r1", channels(), message(notify.Changed, status.Dead, "web:api:a"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first delivery to start", func() bool { _, n := counts(); return n == 1 })

	w.SetChannels(nil)
	w.SetChannels(channels())
	settle()
	if _, n := counts(); n != 1 {
		t.Fatalf("%d requests while the retired drainer still delivers, want 1", n)
	}
	gate <- struct{}{}
	waitFor(t, "delivery", func() bool { a, _ := counts(); return a == 1 })
	settle()
	if a, n := counts(); a != 1 || n != 1 {
		t.Errorf("accepted %d of %d requests, want the message once", a, n)
	}
	waitFor(t, "the entry to be delivered", func() bool { return entryState(t, st, "r1/webhook/").State == store.Delivered })
}
