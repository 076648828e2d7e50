package probe

import (
	"context"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Policy holds Vigil's rules for poll probes (HTTP, TCP, TLS, DNS, SSH, ICMP): retries
// after a dead result and the latency above which a success is sick.
// Script probes are run once, without a Policy, as in Vigil.
type Policy struct {
	// Retries is poll_retry: how many more attempts may follow a dead one
	// (≤ 0: a single attempt). Sick results are never retried.
	Retries int
	// RetryWait is poll_retry_wait, waited before each retry. Vigil's code
	// also waits before the first attempt (its README says before a retry);
	// with fixed-rate scheduling that wait would only delay every check and
	// hold a poll_parallelism slot doing nothing, so the first attempt
	// starts at once.
	RetryWait time.Duration
	// SickAfter is poll_delay_sick: a healthy result whose latency is at
	// least this becomes sick. Zero makes every success sick, as in Vigil;
	// a negative value turns the rule off.
	SickAfter time.Duration
}

// Run probes pr under the policy and returns the last attempt's result, so
// the latency is that of the last attempt. If ctx ends during a wait, Run
// returns at once: with the last result if there was one, else dead.
func (p Policy) Run(ctx context.Context, pr Prober) Result {
	r := Result{Health: status.Dead}
	attempts := 0
	if ctx.Err() != nil {
		return dead(0, errorText(ctx, context.Cause(ctx), 0))
	}
	for attempts == 0 || (attempts <= p.Retries && r.Health == status.Dead) {
		if attempts > 0 && !sleep(ctx, p.RetryWait) {
			break
		}
		r = pr.Probe(ctx)
		attempts++
	}
	switch {
	case r.Health == status.Dead && attempts > 1:
		r.Reason += " (" + strconv.Itoa(attempts) + " attempts)"
	case r.Health == status.Healthy && p.SickAfter >= 0 && r.Latency >= p.SickAfter:
		r.Health = status.Sick
		r.Reason = "slow: " + formatDuration(r.Latency) + ", sick from " + formatDuration(p.SickAfter)
	}
	return r
}

// sleep waits for d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 || ctx.Err() != nil {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
