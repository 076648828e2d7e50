package subscribe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/store"
)

// Headers of a webhook delivery. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), where
// timestamp is the X-Vigil-Timestamp header (Unix seconds): a receiver
// recomputes it, and refuses a timestamp too far from its clock, so that
// a captured delivery cannot be replayed later.
const (
	HeaderSignature = "X-Vigil-Signature"
	HeaderTimestamp = "X-Vigil-Timestamp"
	HeaderEvent     = "X-Vigil-Event"
)

// Sign returns the X-Vigil-Signature of body sent at timestamp (Unix
// seconds) under secret.
func Sign(secret string, timestamp int64, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(timestamp, 10) + "."))
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// Verify checks a delivery's signature and that its timestamp is within
// tolerance of now: what a receiver does.
func Verify(secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("bad %s %q", HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s is %v away from now, more than %v: a replay?", HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("%s does not match the body", HeaderSignature)
	}
	return nil
}

// webhookPayload is what a partner receives.
type webhookPayload struct {
	PageTitle string `json:"page_title"`
	Event     Event  `json:"event"`
}

// postWebhook sends one event to a webhook subscriber, signed with its
// secret. A 2xx answer delivers it; notify's rules say which failures the
// outbox retries (5xx, 429, network errors).
func (s *Service) postWebhook(ctx context.Context, sub store.Subscriber, e Event) error {
	body, err := json.Marshal(webhookPayload{PageTitle: s.cfg.Branding.PageTitle, Event: e})
	if err != nil {
		return &notify.Error{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Address, bytes.NewReader(body))
	if err != nil {
		return &notify.Error{Err: fmt.Errorf("webhook %s: %w", sub.ID, err)}
	}
	ts := s.now().Unix()
	version := s.mail.Version
	if version == "" {
		version = "dev"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil/"+version)
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(sub.Secret, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		// The URL may hold a partner's token: say only which subscriber.
		return &notify.Error{Retryable: true, Err: fmt.Errorf("webhook %s: request failed", sub.ID)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
	return &notify.Error{Retryable: retry, Err: fmt.Errorf("webhook %s: status %d", sub.ID, resp.StatusCode)}
}
