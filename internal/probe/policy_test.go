package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// sequence is a target whose successive checks give the results in order,
// then keep giving the last one. It counts the attempts.
type sequence struct {
	results  []Result
	attempts int
}

func (s *sequence) Probe(context.Context) Result {
	r := s.results[min(s.attempts, len(s.results)-1)]
	s.attempts++
	return r
}

func healthy(latency time.Duration) Result {
	return Result{Health: status.Healthy, Latency: latency}
}

func sick(reason string) Result {
	return Result{Health: status.Sick, Latency: time.Millisecond, Reason: reason}
}

func TestPolicyRun(t *testing.T) {
	down := func(n int) Result {
		return dead(time.Duration(n)*time.Millisecond, "down "+strconv.Itoa(n))
	}
	for _, tt := range []struct {
		name         string
		policy       Policy
		results      []Result
		want         Result
		wantAttempts int
	}{
		{
			name:    "healthy at once",
			policy:  Policy{Retries: 2, SickAfter: 5 * time.Second},
			results: []Result{healthy(time.Millisecond)},
			want:    healthy(time.Millisecond), wantAttempts: 1,
		},
		{
			name:    "dead twice, then healthy: the last latency is kept",
			policy:  Policy{Retries: 2, SickAfter: 5 * time.Second},
			results: []Result{down(1), down(2), healthy(3 * time.Millisecond)},
			want:    healthy(3 * time.Millisecond), wantAttempts: 3,
		},
		{
			name:    "dead on every attempt",
			policy:  Policy{Retries: 2, SickAfter: 5 * time.Second},
			results: []Result{down(1), down(2), down(3), healthy(time.Millisecond)},
			want:    dead(3*time.Millisecond, "down 3 (3 attempts)"), wantAttempts: 3,
		},
		{
			name:    "no retries",
			policy:  Policy{Retries: 0, SickAfter: 5 * time.Second},
			results: []Result{down(1), healthy(time.Millisecond)},
			want:    down(1), wantAttempts: 1,
		},
		{
			name:    "negative retries still probe once",
			policy:  Policy{Retries: -1, SickAfter: 5 * time.Second},
			results: []Result{down(1), healthy(time.Millisecond)},
			want:    down(1), wantAttempts: 1,
		},
		{
			name:    "sick is never retried",
			policy:  Policy{Retries: 2, SickAfter: 5 * time.Second},
			results: []Result{sick("queue full"), healthy(time.Millisecond)},
			want:    sick("queue full"), wantAttempts: 1,
		},
		{
			name:    "dead, then sick",
			policy:  Policy{Retries: 2, SickAfter: 5 * time.Second},
			results: []Result{down(1), sick("queue full"), healthy(time.Millisecond)},
			want:    sick("queue full"), wantAttempts: 2,
		},
		{
			name:         "slow success is sick",
			policy:       Policy{Retries: 2, SickAfter: 5 * time.Second},
			results:      []Result{healthy(5234 * time.Millisecond)},
			want:         Result{Health: status.Sick, Latency: 5234 * time.Millisecond, Reason: "slow: 5.2s, sick from 5s"},
			wantAttempts: 1,
		},
		{
			name:         "exactly the sick delay is sick",
			policy:       Policy{SickAfter: 5 * time.Second},
			results:      []Result{healthy(5 * time.Second)},
			want:         Result{Health: status.Sick, Latency: 5 * time.Second, Reason: "slow: 5s, sick from 5s"},
			wantAttempts: 1,
		},
		{
			name:    "just under the sick delay is healthy",
			policy:  Policy{SickAfter: 5 * time.Second},
			results: []Result{healthy(5*time.Second - time.Nanosecond)},
			want:    healthy(5*time.Second - time.Nanosecond), wantAttempts: 1,
		},
		{
			name:         "a zero sick delay makes every success sick, as in Vigil",
			policy:       Policy{},
			results:      []Result{healthy(2 * time.Millisecond)},
			want:         Result{Health: status.Sick, Latency: 2 * time.Millisecond, Reason: "slow: 2ms, sick from 0s"},
			wantAttempts: 1,
		},
		{
			name:    "a negative sick delay turns the rule off",
			policy:  Policy{SickAfter: -1},
			results: []Result{healthy(time.Hour)},
			want:    healthy(time.Hour), wantAttempts: 1,
		},
		{
			name:         "a slow success after retries is sick",
			policy:       Policy{Retries: 1, SickAfter: time.Second},
			results:      []Result{down(1), healthy(1500 * time.Millisecond)},
			want:         Result{Health: status.Sick, Latency: 1500 * time.Millisecond, Reason: "slow: 1.5s, sick from 1s"},
			wantAttempts: 2,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := &sequence{results: tt.results}
			got := tt.policy.Run(context.Background(), target)
			if got != tt.want {
				t.Errorf("Run() = %+v, want %+v", got, tt.want)
			}
			if target.attempts != tt.wantAttempts {
				t.Errorf("Run() made %d attempts, want %d", target.attempts, tt.wantAttempts)
			}
		})
	}
}

func TestPolicyWaitsBeforeEachRetry(t *testing.T) {
	const wait = 50 * time.Millisecond
	var at []time.Time
	target := Func(func(context.Context) Result {
		at = append(at, time.Now())
		if len(at) < 3 {
			return dead(0, "down")
		}
		return healthy(0)
	})
	Policy{Retries: 2, RetryWait: wait, SickAfter: time.Second}.Run(context.Background(), target)
	if len(at) != 3 {
		t.Fatalf("%d attempts, want 3", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < wait {
			t.Errorf("attempt %d came %v after the previous one, want at least %v", i+1, gap, wait)
		}
	}
}

// The first attempt does not wait poll_retry_wait: with an hour's wait, a
// healthy target is still judged healthy well before the context ends.
func TestPolicyFirstAttemptDoesNotWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := &sequence{results: []Result{healthy(0)}}
	got := Policy{Retries: 2, RetryWait: time.Hour, SickAfter: time.Second}.Run(ctx, target)
	if got.Health != status.Healthy || target.attempts != 1 {
		t.Errorf("Run() = %v after %d attempts, want healthy after 1", got, target.attempts)
	}
}

func TestPolicyCanceledBeforeFirstAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	target := &sequence{results: []Result{healthy(0)}}
	got := Policy{Retries: 5, RetryWait: time.Hour}.Run(ctx, target)
	if got.Health != status.Dead || !strings.Contains(got.Reason, "cancel") {
		t.Errorf("Run() = %+v, want dead because canceled", got)
	}
	if target.attempts != 0 {
		t.Errorf("Run() made %d attempts, want 0", target.attempts)
	}
}

func TestPolicyCanceledBeforeRetry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempts := 0
	target := Func(func(context.Context) Result {
		attempts++
		cancel() // the daemon stops while this attempt runs
		return dead(time.Millisecond, "down")
	})
	done := make(chan Result, 1)
	go func() { done <- Policy{Retries: 5, RetryWait: time.Millisecond}.Run(ctx, target) }()
	checkResult(t, done, dead(time.Millisecond, "down"))
	if attempts != 1 {
		t.Errorf("Run() made %d attempts, want 1", attempts)
	}
}

func checkResult(t *testing.T, done <-chan Result, want Result) {
	t.Helper()
	select {
	case got := <-done:
		if got != want {
			t.Errorf("Run() = %+v, want %+v", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run() did not return after its context was canceled")
	}
}

func TestPolicyRetriesHTTP(t *testing.T) {
	for _, tt := range []struct {
		retries    int
		want       status.Health
		wantReason string
		wantHits   int32
	}{
		{retries: 2, want: status.Healthy, wantHits: 3},
		{retries: 1, want: status.Dead, wantReason: ": status 503, want 200–399 (2 attempts)", wantHits: 2},
	} {
		var hits atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		h := &HTTP{URL: mustURL(t, ts.URL+"/health"), NoCacheBuster: true, Timeout: 10 * time.Second}
		got := Policy{Retries: tt.retries, RetryWait: 10 * time.Millisecond, SickAfter: time.Minute}.Run(context.Background(), h)
		ts.Close()
		if got.Health != tt.want {
			t.Errorf("retries %d: Run() = %+v, want %v", tt.retries, got, tt.want)
		}
		if want := "HEAD " + ts.URL + "/health" + tt.wantReason; tt.wantReason != "" && got.Reason != want {
			t.Errorf("retries %d: Reason = %q, want %q", tt.retries, got.Reason, want)
		}
		if n := hits.Load(); n != tt.wantHits {
			t.Errorf("retries %d: the server was hit %d times, want %d", tt.retries, n, tt.wantHits)
		}
	}
}
