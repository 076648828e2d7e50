package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSubscribersSQLite(t *testing.T) { testSubscribers(t, freshSQLite) }

func TestSubscribersPostgres(t *testing.T) {
	freshPostgres(t) // fail or skip once, here, if the server is missing
	testSubscribers(t, freshPostgres)
}

func testSubscribers(t *testing.T, fresh func(testing.TB) Config) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

	t.Run("AddConfirmUnsubscribe", func(t *testing.T) {
		s := open(t, fresh(t))
		a, existed, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "a@example.com",
			Services: []string{"web"}, Created: t0}, 2)
		if err != nil || existed {
			t.Fatalf("AddSubscriber = %v, existed %v", err, existed)
		}
		if a.ID == "" || len(a.Token) < 32 || a.Confirmed {
			t.Fatalf("new subscriber %+v: want an id, a long token, pending", a)
		}
		again, existed, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "a@example.com", Created: t0.Add(time.Hour)}, 2)
		if err != nil || !existed || again.ID != a.ID || !slices.Equal(again.Services, []string{"web"}) {
			t.Fatalf("adding the same address again = %+v, %v, %v; want the first one, existed", again, existed, err)
		}
		if _, _, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "b@example.com", Created: t0}, 2); err != nil {
			t.Fatal(err)
		}
		for _, addr := range []string{"c@example.com", "a@example.com"} {
			if _, _, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: addr, Created: t0}, 2); !errors.Is(err, ErrFull) {
				t.Fatalf("adding %s with 2 pending of 2 = %v, want ErrFull, known address or not", addr, err)
			}
		}
		// Pre-confirmed ones (migrations) are not bounded.
		if _, _, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "c@example.com", Created: t0, Confirmed: true}, 2); err != nil {
			t.Fatalf("a pre-confirmed subscriber past max_pending = %v", err)
		}
		if err := s.ConfirmSubscriber(ctx, a.ID, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Subscriber(ctx, a.ID)
		if err != nil || !got.Confirmed || !got.ConfirmedAt.Equal(t0.Add(time.Minute)) || got.Token != a.Token {
			t.Fatalf("after confirming: %+v, %v", got, err)
		}
		confirmed, err := s.Subscribers(ctx, true)
		if err != nil || len(confirmed) != 2 || confirmed[0].Address != "a@example.com" || confirmed[1].Address != "c@example.com" {
			t.Fatalf("confirmed subscribers = %+v, %v; want a and c, in order", confirmed, err)
		}
		if err := s.Unsubscribe(ctx, a.Token); err != nil {
			t.Fatal(err)
		}
		if err := s.Unsubscribe(ctx, a.Token); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unsubscribing twice = %v, want ErrNotFound", err)
		}
		if err := s.ConfirmSubscriber(ctx, a.ID, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("confirming an unsubscribed id = %v, want ErrNotFound", err)
		}
		if _, _, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "x\x00@example.com", Created: t0}, 0); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a NUL byte in the address = %v, want ErrInvalid", err)
		}
		if _, _, err := s.AddSubscriber(ctx, Subscriber{Kind: "sms", Address: "+331", Created: t0}, 0); !errors.Is(err, ErrInvalid) {
			t.Fatalf("an unknown kind = %v, want ErrInvalid", err)
		}
	})

	t.Run("PrunePending", func(t *testing.T) {
		s := open(t, fresh(t))
		old, _, _ := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "old@example.com", Created: t0}, 0)
		kept, _, _ := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "kept@example.com", Created: t0, Confirmed: true}, 0)
		fresh, _, _ := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberEmail, Address: "new@example.com", Created: t0.Add(2 * time.Hour)}, 0)
		n, err := s.PrunePending(ctx, t0.Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("PrunePending = %d, %v; want 1", n, err)
		}
		if _, err := s.Subscriber(ctx, old.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the expired pending subscriber is still there: %v", err)
		}
		for _, id := range []string{kept.ID, fresh.ID} {
			if _, err := s.Subscriber(ctx, id); err != nil {
				t.Errorf("subscriber %s was pruned: %v", id, err)
			}
		}
	})

	t.Run("Webhook", func(t *testing.T) {
		s := open(t, fresh(t))
		w, _, err := s.AddSubscriber(ctx, Subscriber{Kind: SubscriberWebhook, Address: "https://partner.example/hook",
			Secret: "s3cret-s3cret", Created: t0, Confirmed: true}, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Subscriber(ctx, w.ID)
		if err != nil || got.Secret != "s3cret-s3cret" || got.Kind != SubscriberWebhook || got.Services == nil {
			t.Fatalf("webhook read back = %+v, %v", got, err)
		}
		if err := s.DeleteSubscriber(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSubscriber(ctx, w.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleting twice = %v, want ErrNotFound", err)
		}
	})

	t.Run("SigningKeys", func(t *testing.T) {
		s := open(t, fresh(t))
		if err := s.AddSigningKey(ctx, SigningKey{ID: "k1", Secret: []byte("short"), Created: t0}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a short secret = %v, want ErrInvalid", err)
		}
		k1 := SigningKey{ID: "k1", Secret: randomBytes(32), Created: t0}
		k2 := SigningKey{ID: "k2", Secret: randomBytes(32), Created: t0.Add(time.Hour)}
		for _, k := range []SigningKey{k1, k2, {ID: "k1", Secret: randomBytes(32), Created: t0}} {
			if err := s.AddSigningKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := s.SigningKeys(ctx)
		if err != nil || len(keys) != 2 || keys[0].ID != "k2" || string(keys[1].Secret) != string(k1.Secret) {
			t.Fatalf("SigningKeys = %+v, %v; want k2 then k1, k1 unchanged", keys, err)
		}
		if n, err := s.DeleteSigningKeys(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("DeleteSigningKeys = %d, %v; want 1", n, err)
		}
	})

	t.Run("Events", func(t *testing.T) {
		s := open(t, fresh(t))
		start, err := s.SubscriptionsStart(ctx, t0)
		if err != nil || !start.Equal(t0) {
			t.Fatalf("first SubscriptionsStart = %v, %v", start, err)
		}
		if start, err := s.SubscriptionsStart(ctx, t0.Add(time.Hour)); err != nil || !start.Equal(t0) {
			t.Fatalf("second SubscriptionsStart = %v, %v; want the first time kept", start, err)
		}
		ev := []SubscriptionEvent{{Key: "incident:1:opened", At: t0}, {Key: "incident:1:resolved", At: t0.Add(time.Hour)}}
		if err := s.MarkEventsSent(ctx, append(ev, ev...)); err != nil {
			t.Fatal(err)
		}
		sent, err := s.SentEvents(ctx, t0.Add(time.Minute))
		if err != nil || len(sent) != 1 || !sent["incident:1:resolved"] {
			t.Fatalf("SentEvents = %v, %v", sent, err)
		}
		if err := s.PruneSentEvents(ctx, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if sent, _ := s.SentEvents(ctx, time.Time{}); len(sent) != 1 {
			t.Fatalf("after pruning: %v", sent)
		}
	})
}
