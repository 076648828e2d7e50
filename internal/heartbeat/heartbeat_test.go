package heartbeat

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingTransport answers every request 200 and records when it came.
type countingTransport struct {
	mu    sync.Mutex
	times []time.Time
	urls  []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.times = append(c.times, time.Now())
	c.urls = append(c.urls, r.Method+" "+r.URL.String())
	c.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("OK")), Request: r}, nil
}

// TestBeatsOnScheduleAndStopsWhenNotReady runs the heartbeat on a fake
// clock: a GET at start and every minute; none while vigil cannot alert;
// again once it can.
func TestBeatsOnScheduleAndStopsWhenNotReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &countingTransport{}
		var down atomic.Bool
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			Run(ctx, Options{URL: "https://hc.example.com/ping/abc", Every: time.Minute, Client: &http.Client{Transport: tr},
				Ready: func(context.Context) error {
					if down.Load() {
						return errors.New("store unavailable")
					}
					return nil
				}})
		}()
		time.Sleep(5*time.Minute + time.Second) // beats at 0, 1, …, 5 min
		down.Store(true)
		time.Sleep(3 * time.Minute) // 6, 7, 8 min: none
		down.Store(false)
		time.Sleep(2 * time.Minute) // 9, 10 min
		cancel()
		<-done

		var got []time.Duration
		for _, at := range tr.times {
			got = append(got, at.Sub(start).Round(time.Second))
		}
		want := []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 9 * time.Minute, 10 * time.Minute}
		if len(got) != len(want) {
			t.Fatalf("beats at %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("beats at %v, want %v", got, want)
			}
		}
		if tr.urls[0] != "GET https://hc.example.com/ping/abc" {
			t.Errorf("request %q, want a GET of the heartbeat URL", tr.urls[0])
		}
	})
}
