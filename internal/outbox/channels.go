package outbox

import "github.com/vigil-go/vigil/internal/notify"

// drainer is the goroutine that delivers one channel's messages.
type drainer struct {
	ch   notify.Channel
	wake chan struct{} // cap 1: messages were queued for ch
	stop chan struct{} // closed: finish the attempt in progress and return
	done chan struct{} // closed when it has returned
	// after, when set, is the drainer it replaces: it starts delivering
	// once that one has returned, so that two never send the same
	// channel's messages at once (one message could go out twice).
	after *drainer
}

// stopped reports whether SetChannels asked d to stop.
func (d *drainer) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

func newDrainer(ch notify.Channel, after *drainer) *drainer {
	return &drainer{ch: ch, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), after: after}
}

// start runs d under Run's context. w.mu must be held and Run running.
func (w *Worker) start(d *drainer) {
	ctx := w.running
	w.wg.Go(func() {
		defer close(d.done)
		if d.after != nil {
			select {
			case <-ctx.Done():
				return
			case <-d.after.done:
			}
		}
		w.drain(ctx, d)
	})
}

// SetChannels replaces the channels the worker delivers to, as a config
// reload does, without losing a message: each channel's drainer finishes
// the attempt it is in and hands over to one with the new settings. Messages
// of a channel that remains stay queued and go out with its new settings;
// messages of a removed channel stay in the outbox, undelivered, and are
// given up once older than MaxAge (with an error log each) unless the
// channel comes back before; their removal is logged at warn.
func (w *Worker) SetChannels(channels []notify.Channel) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := make(map[string]*drainer, len(channels))
	for _, ch := range channels {
		old := w.drainers[ch.Name]
		if w.running == nil {
			next[ch.Name] = newDrainer(ch, nil) // none runs yet: nothing to hand over
			continue
		}
		if old != nil {
			close(old.stop)
		} else {
			// A channel that comes back: its retired drainer (stopped
			// already) may still be in its last pass.
			old = w.retired[ch.Name]
		}
		delete(w.retired, ch.Name)
		d := newDrainer(ch, old)
		next[ch.Name] = d
		w.start(d)
	}
	for name, old := range w.drainers {
		if _, kept := next[name]; !kept {
			if w.running != nil {
				close(old.stop)
				w.retired[name] = old
			}
			w.log.Warn("outbox: channel removed from the config; its undelivered notifications wait in the outbox until it comes back or they are older than outbox_max_age",
				"channel", name, "outbox_max_age", w.o.MaxAge)
		}
	}
	w.drainers = next
	for _, d := range next {
		select {
		case d.wake <- struct{}{}: // deliver what waits, with the new settings
		default:
		}
	}
}
