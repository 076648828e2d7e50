package probe

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// This file holds the wording shared by every kind: how a probe's own
// deadline is told apart from its caller's, and how durations read in reasons.

// timeoutError is the cause attached to a probe's own deadline, so that a
// reason says which limit was hit ("timeout after 10s") rather than the
// generic "context deadline exceeded".
type timeoutError struct{ after time.Duration }

func (e timeoutError) Error() string { return "timeout after " + formatDuration(e.after) }

// Timeout reports true, as net.Error timeouts do.
func (timeoutError) Timeout() bool { return true }

// Is makes errors.Is(err, context.DeadlineExceeded) hold, so callers that
// only know the standard sentinel still recognise a probe timeout.
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// withTimeout bounds ctx by d, a probe's own timeout; d ≤ 0 adds no bound.
// When the bound is what expires, errorText reads "timeout after d".
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, timeoutError{d})
}

// errorText returns the words a person should read for err, which happened
// while ctx (made by withTimeout with timeout d) was in force. Timeouts and
// cancellations are worded once, here, for every kind; other errors keep the
// standard library's text, which already names the operation and the address.
func errorText(ctx context.Context, err error, d time.Duration) string {
	if isTimeout(err) || errors.Is(err, context.Canceled) {
		if ctx.Err() != nil {
			cause := context.Cause(ctx)
			var te timeoutError
			switch {
			case errors.As(cause, &te):
				return te.Error()
			case errors.Is(cause, context.Canceled):
				// The caller gave up (shutdown, reload), not the target.
				return "canceled"
			}
			return cause.Error()
		}
		// A deadline set on a connection rather than on ctx (SSH) expired.
		if isTimeout(err) && d > 0 {
			return timeoutError{d}.Error()
		}
	}
	return err.Error()
}

// isTimeout reports whether err is a deadline of any kind.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// formatDuration writes d the way people write it in a status line: whole
// seconds as "10s", longer spans to a tenth of a second ("5.2s", "60s" rather
// than time.Duration's "1m0s"), and short spans in milliseconds ("850ms").
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	case d >= time.Millisecond:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	}
	return d.String()
}

// dead returns a dead Result.
func dead(latency time.Duration, reason string) Result {
	return Result{Health: status.Dead, Latency: latency, Reason: reason}
}
