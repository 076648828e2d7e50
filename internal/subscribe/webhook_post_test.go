package subscribe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/store"
)

// A subscriber's webhook is retried as a channel is: after the delay its
// Retry-After asks for on 429 and 5xx, never on another 4xx; and its URL,
// which may hold a partner's token, is not in the error.
func TestWebhookFailuresFollowTheChannelsRules(t *testing.T) {
	code, after := 0, ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderSignature) == "" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unsigned", http.StatusUnauthorized)
			return
		}
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	s := &Service{cfg: &config.Config{}, now: time.Now, client: srv.Client()}
	s.look.Store(&look{title: "Acme Status"})
	sub := store.Subscriber{ID: "sub1", Address: srv.URL + "/hook?token=partner-secret", Secret: "k"}
	tests := []struct {
		code      int
		after     string
		retry     bool
		retryWait time.Duration
	}{
		{http.StatusOK, "", false, 0},
		{http.StatusTooManyRequests, "7", true, 7 * time.Second},
		{http.StatusServiceUnavailable, "", true, 0},
		{http.StatusNotFound, "", false, 0},
	}
	for _, tt := range tests {
		code, after = tt.code, tt.after
		err := s.postWebhook(context.Background(), sub, Event{Type: "incident.opened"})
		if (err == nil) != (tt.code == http.StatusOK) {
			t.Fatalf("status %d: error %v", tt.code, err)
		}
		if err == nil {
			continue
		}
		retry, wait := notify.ShouldRetry(err)
		if retry != tt.retry || wait != tt.retryWait {
			t.Errorf("status %d: retry %v after %v, want %v after %v", tt.code, retry, wait, tt.retry, tt.retryWait)
		}
		if strings.Contains(err.Error(), "partner-secret") || !strings.Contains(err.Error(), "sub1") {
			t.Errorf("status %d: error %q should name the subscriber and not its URL", tt.code, err)
		}
	}
}
