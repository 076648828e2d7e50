package subscribe_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
	"github.com/vigil-go/vigil/internal/subscribe"
	"github.com/vigil-go/vigil/internal/testkit"
	"github.com/vigil-go/vigil/internal/testkit/mailbox"
)

// TestFailoverDuringASend: two members share one PostgreSQL database, as a
// cluster does. The leader starts sending an incident to 300 subscribers
// and loses the lead a third of the way; the other member takes over.
// Every subscriber gets the incident, none twice but for at most the one
// message in flight at the handover (the outbox delivers at least once),
// and the new leader queues nothing again.
func TestFailoverDuringASend(t *testing.T) {
	const subscribers = 300
	ctx := context.Background()
	db := storetest.Postgres(t)
	mail := mailbox.Start(t)
	clock := testkit.NewClock(t0)
	ts := httptest.NewUnstartedServer(nil)
	cfg := testkit.Config(t, configText("http://"+ts.Listener.Addr().String()+"/", mail, rigOptions{}))
	ts.Close()

	var leader atomic.Int32 // which member leads: 1 or 2
	leader.Store(1)
	member := func(id int32) (*subscribe.Service, *store.Store) {
		st := storetest.Open(t, db)
		leads := func() bool { return leader.Load() == id }
		return subscribe.New(subscribe.Options{Config: cfg, Store: st, Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
			Delivery:      outbox.Options{Store: st, PollEvery: 20 * time.Millisecond, Active: leads},
			DispatchEvery: 20 * time.Millisecond, Active: leads}), st
	}
	first, st := member(1)
	second, _ := member(2)
	for i := range subscribers {
		if _, _, err := st.AddSubscriber(ctx, store.Subscriber{Kind: store.SubscriberEmail,
			Address: fmt.Sprintf("s%03d@example.com", i), Created: t0, Confirmed: true}, 0); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { first.Run(runCtx) })
	wg.Go(func() { second.Run(runCtx) })
	time.Sleep(100 * time.Millisecond) // the first pass marks the start

	clock.Advance(time.Minute)
	if _, err := st.OpenIncident(ctx, store.Incident{Title: "Failover", Nodes: []string{"web:api"}, Opened: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	mail.Wait(t, "", subscribers/3, wait)
	leader.Store(2)
	got := map[string]int{}
	waitFor(t, "every subscriber's mail", func() bool {
		clear(got)
		for _, m := range mail.Mails() {
			got[m.To[0]]++
		}
		return len(got) == subscribers
	})
	time.Sleep(300 * time.Millisecond) // time for any duplicate to show
	clear(got)
	for _, m := range mail.Mails() {
		got[m.To[0]]++
	}
	twice := 0
	for i := range subscribers {
		switch n := got[fmt.Sprintf("s%03d@example.com", i)]; {
		case n == 0:
			t.Errorf("subscriber %d got nothing", i)
		case n > 1:
			twice++
		}
	}
	if twice > 1 {
		t.Errorf("%d subscribers got the incident twice; at most the one in flight at the handover may", twice)
	}
	if n := len(mail.Mails()); n > subscribers+1 {
		t.Errorf("%d mails for %d subscribers", n, subscribers)
	}
}
