package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Microsecond, "500µs"},
		{time.Millisecond, "1ms"},
		{850 * time.Millisecond, "850ms"},
		{999 * time.Millisecond, "999ms"},
		{time.Second, "1s"},
		{5234 * time.Millisecond, "5.2s"},
		{5250 * time.Millisecond, "5.3s"},
		{10 * time.Second, "10s"},
		{60 * time.Second, "60s"},
		{90500 * time.Millisecond, "90.5s"},
	} {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", time.Duration(tt.d), got, tt.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	expired, cancel := withTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-expired.Done()

	canceled, cancel := withTimeout(context.Background(), time.Hour)
	cancel()

	parentDeadline, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-parentDeadline.Done()
	parentExpired, cancel := withTimeout(parentDeadline, time.Hour)
	defer cancel()

	live, cancel := withTimeout(context.Background(), time.Hour)
	defer cancel()

	netTimeout := &os.SyscallError{Syscall: "read", Err: os.ErrDeadlineExceeded}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		err  error
		d    time.Duration
		want string
	}{
		{"own timeout", expired, fmt.Errorf("dial: %w", context.DeadlineExceeded), 10 * time.Second, "timeout after 1ns"},
		{"own timeout, net error", expired, netTimeout, 10 * time.Second, "timeout after 1ns"},
		{"caller canceled", canceled, context.Canceled, time.Hour, "canceled"},
		{"caller's shorter deadline", parentExpired, context.DeadlineExceeded, time.Hour, "context deadline exceeded"},
		{"connection deadline", live, netTimeout, 10 * time.Second, "timeout after 10s"},
		{"other error", live, syscall.ECONNREFUSED, 10 * time.Second, "connection refused"},
		{"other error after expiry", expired, errors.New("tls: bad certificate"), 10 * time.Second, "tls: bad certificate"},
	} {
		if got := errorText(tt.ctx, tt.err, tt.d); got != tt.want {
			t.Errorf("%s: errorText(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}
