package subscribe

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
// secret, with the channels' HTTP rules: a 2xx answer delivers it; network
// errors, 429 and 5xx are retried by the outbox (after Retry-After when
// given); the URL, which may hold a partner's token, never reaches a log.
func (s *Service) postWebhook(ctx context.Context, sub store.Subscriber, e Event) error {
	body, err := json.Marshal(webhookPayload{PageTitle: s.look.Load().title, Event: e})
	if err != nil {
		return &notify.Error{Err: err}
	}
	ts := s.now().Unix()
	version := s.mail.Version
	if version == "" {
		version = "dev"
	}
	header := http.Header{}
	header.Set(HeaderEvent, e.Type)
	header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	header.Set(HeaderSignature, Sign(sub.Secret, ts, body))
	if err := notify.Post(ctx, s.client, "vigil/"+version, sub.Address, "application/json", header, body); err != nil {
		return fmt.Errorf("webhook %s: %w", sub.ID, err)
	}
	return nil
}
