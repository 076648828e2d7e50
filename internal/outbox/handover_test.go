package outbox

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vigil-go/vigil/internal/notify"
)

// countingNotifier records the targets it delivered to and calls onSend
// after each delivery.
type countingNotifier struct {
	key    string
	mu     *sync.Mutex
	sent   map[string]int
	onSend func(n int)
}

func (c countingNotifier) Notify(context.Context, notify.Message) error {
	c.mu.Lock()
	c.sent[c.key]++
	n := 0
	for _, v := range c.sent {
		n += v
	}
	c.mu.Unlock()
	c.onSend(n)
	return nil
}

// TestLeadLostMidBatch: a worker that stops being the leader while it
// goes through a batch of due messages stops there, rather than sending
// the rest that the new leader sends too; it resumes when it leads
// again. The channel's targets are found by Lookup, as the subscribers'
// are.
func TestLeadLostMidBatch(t *testing.T) {
	st := openStore(t, "")
	var active atomic.Bool
	active.Store(true)
	var mu sync.Mutex
	sent := map[string]int{}
	ch := notify.Channel{Name: "subscribers-test", Lookup: func(key string) (notify.Target, bool) {
		return notify.Target{Channel: "subscribers-test", Key: key, Notifier: countingNotifier{key: key, mu: &mu, sent: sent,
			onSend: func(n int) {
				if n == 3 {
					active.Store(false) // the lead passes on during the third delivery
				}
			}}}, true
	}}
	var batch []Item
	for i := range 10 {
		key := fmt.Sprintf("subscriber-%d", i)
		batch = append(batch, Item{ID: "event/" + key, Channel: ch.Name, Target: key, Message: notify.Message{Kind: "test"}})
	}
	w, _ := start(t, st, []notify.Channel{ch}, func(o *Options) { o.Active = active.Load })
	if _, err := w.Enqueue(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, v := range sent {
			n += v
		}
		return n
	}
	waitFor(t, "three deliveries", func() bool { return total() >= 3 })
	settle()
	if n := total(); n != 3 {
		t.Fatalf("%d messages sent after the lead was lost at the third, want 3", n)
	}
	active.Store(true)
	waitFor(t, "the rest of the batch", func() bool { return total() == 10 })
	settle()
	mu.Lock()
	defer mu.Unlock()
	for key, n := range sent {
		if n != 1 {
			t.Errorf("%s got %d messages, want 1", key, n)
		}
	}
	if len(sent) != 10 {
		t.Errorf("%d targets reached, want 10", len(sent))
	}
}
