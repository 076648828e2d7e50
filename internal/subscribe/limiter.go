package subscribe

import (
	"sync"
	"time"
)

// maxLimiterKeys bounds the memory of one limiter: past it, windows that
// have ended are forgotten, and if none has, new keys are refused until
// one ends (every client is then told to try later, never let through).
const maxLimiterKeys = 100_000

// limiter allows each key (a client address, an e-mail address) at most
// limit events per window, in fixed windows starting at the key's first
// event. It is in memory: a restart forgets the counts, which only
// lets a patient abuser through once more.
type limiter struct {
	limit  int
	window time.Duration

	mu   sync.Mutex
	hits map[string]*hitWindow
}

type hitWindow struct {
	start time.Time
	n     int
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, hits: make(map[string]*hitWindow)}
}

// allow counts one event of key at now and reports whether it is within
// the limit.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.hits[key]
	if ok && now.Sub(w.start) >= l.window {
		w.start, w.n = now, 0
	}
	if !ok {
		if len(l.hits) >= maxLimiterKeys {
			for k, old := range l.hits {
				if now.Sub(old.start) >= l.window {
					delete(l.hits, k)
				}
			}
			if len(l.hits) >= maxLimiterKeys {
				return false
			}
		}
		w = &hitWindow{start: now}
		l.hits[key] = w
	}
	w.n++
	return w.n <= l.limit
}
