package alerting

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// downStore is the real store with a switch that makes every call the
// engine and the outbox make hang until its deadline, as a database behind
// a dead network does.
type downStore struct {
	*store.Store
	mu    sync.Mutex
	down  bool
	calls int // calls made while down
}

func (d *downStore) hang(ctx context.Context) error {
	d.mu.Lock()
	down := d.down
	if down {
		d.calls++
	}
	d.mu.Unlock()
	if !down {
		return nil
	}
	<-ctx.Done()
	return errors.Join(errors.New("database unreachable (test)"), ctx.Err())
}

func (d *downStore) set(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down, d.calls = down, 0
}

func (d *downStore) PutReminder(ctx context.Context, scope string, st store.ReminderState) error {
	if err := d.hang(ctx); err != nil {
		return err
	}
	return d.Store.PutReminder(ctx, scope, st)
}

func (d *downStore) Maintenance(ctx context.Context, since, until time.Time) ([]store.Window, error) {
	if err := d.hang(ctx); err != nil {
		return nil, err
	}
	return d.Store.Maintenance(ctx, since, until)
}

func (d *downStore) Enqueue(ctx context.Context, entries []store.OutboxEntry) (int, error) {
	if err := d.hang(ctx); err != nil {
		return 0, err
	}
	return d.Store.Enqueue(ctx, entries)
}

// TestStoreDownDecidesFromMemory: an outage that begins and ends while the
// store hangs is queued as it happens (dead, then recovered), each
// snapshot waits for the store at most once per retry period, and the
// state is saved once the store answers.
func TestStoreDownDecidesFromMemory(t *testing.T) {
	c := testkit.NewClock(t0)
	chs := webhookChannels(t)
	var ds *downStore
	h := newHarness(t, dbPath(t), c, alertpolicy.New(&config.Notify{}), chs,
		func(s Store) Store { ds = &downStore{Store: s.(*store.Store)}; return ds },
		func(o *Options) { o.StoreTimeout = 20 * time.Millisecond; o.StoreRetry = 30 * time.Second })
	// The outbox goes through the same sick store.
	h.out.w = outbox.New(outbox.Options{Store: ds, Channels: chs, Now: c.Now, StoreTimeout: 20 * time.Millisecond})

	h.run(10 * time.Second) // healthy, settled
	ds.set(true)
	begin := time.Now()
	h.run(20*time.Second, "web:core:a")
	h.run(20 * time.Second)
	took := time.Since(begin)

	var got []string
	for _, q := range h.out.all() {
		if q.added > 0 {
			m := q.items[0].Message
			got = append(got, string(m.Kind)+":"+m.Status.String())
		}
	}
	if want := []string{"changed:dead", "changed:healthy"}; !slices.Equal(got, want) {
		t.Fatalf("queued while the store hung: %v, want %v", got, want)
	}
	// Four snapshots over 40 s with a 30 s retry period: the engine waited
	// for the store twice at most (plus one Enqueue per alert).
	ds.mu.Lock()
	calls := ds.calls
	ds.mu.Unlock()
	if calls > 4 {
		t.Errorf("%d store calls while it hung over 4 snapshots, want at most 4 (one per retry period and alert)", calls)
	}
	if took > 2*time.Second {
		t.Errorf("deciding 4 snapshots took %v while the store hung, want about its timeout per call", took)
	}
	if !strings.Contains(h.log(), "deciding from memory") {
		t.Errorf("no warning that the engine decides from memory:\n%s", h.log())
	}

	ds.set(false)
	c.Advance(time.Minute)
	h.e.Process(ctx, snapshot(c.Now()))
	rs, ok, err := h.st.Reminder(ctx, Scope)
	if err != nil || !ok || rs.LastStatus != status.Healthy || rs.LastNotified.IsZero() {
		t.Errorf("stored state after the store came back: %+v %v %v, want healthy, notified", rs, ok, err)
	}
	if !strings.Contains(h.log(), "the store answers again") {
		t.Errorf("the recovery of the store is not logged:\n%s", h.log())
	}
}
