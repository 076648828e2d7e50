package testkit

import (
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Source serves the snapshot a test sets, as the monitor would: each Set
// publishes a new immutable snapshot with the next version. The zero value
// serves nil until the first Set or Store.
type Source struct {
	cur     atomic.Pointer[status.Snapshot]
	version atomic.Uint64
}

// SourceOf returns a Source serving snap.
func SourceOf(snap *status.Snapshot) *Source {
	s := &Source{}
	s.Store(snap)
	return s
}

// Snapshot returns the snapshot last set.
func (s *Source) Snapshot() *status.Snapshot { return s.cur.Load() }

// Store serves snap as it is.
func (s *Source) Store(snap *status.Snapshot) { s.cur.Store(snap) }

// Set publishes services, rolled up, refreshed at refreshed.
func (s *Source) Set(services []status.Service, refreshed time.Time) {
	health, dead := status.Rollup(services)
	s.cur.Store(&status.Snapshot{
		Version:   s.version.Add(1),
		Health:    health,
		Refreshed: refreshed,
		Services:  services,
		Dead:      dead,
	})
}
