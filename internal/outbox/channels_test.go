package outbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
