package testkit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/status"
)

func TestLogBufferCountsLinesWithEveryPart(t *testing.T) {
	var l LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&l, "level=WARN msg=x n=%d\n", i) })
	}
	wg.Wait()
	fmt.Fprintln(&l, "level=INFO msg=x")
	if got := l.Count("msg=x"); got != 9 {
		t.Errorf("Count(msg=x) = %d, want 9", got)
	}
	if got := l.Count("WARN", "n=3"); got != 1 {
		t.Errorf("Count(WARN, n=3) = %d, want 1", got)
	}
}

func TestClockMovesOnlyByHand(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(t0)
	if got := c.Advance(time.Minute); !got.Equal(t0.Add(time.Minute)) || !c.Now().Equal(got) {
		t.Errorf("after Advance: %v, Now %v", got, c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Errorf("after Set: %v", c.Now())
	}
}

func TestSourcePublishesNewVersions(t *testing.T) {
	var s Source
	if s.Snapshot() != nil {
		t.Fatal("a new Source serves a snapshot")
	}
	svc := []status.Service{{ID: "a", Nodes: []status.Node{{ID: "n", Health: status.Dead, Replicas: []status.Replica{{ID: "r", Health: status.Dead}}}}}}
	s.Set(svc, time.Unix(0, 0))
	first := s.Snapshot()
	s.Set(svc, time.Unix(1, 0))
	if second := s.Snapshot(); second.Version <= first.Version || second.Health != status.Dead {
		t.Errorf("versions %d then %d, health %v", first.Version, second.Version, second.Health)
	}
}

func TestConfigParses(t *testing.T) {
	cfg := Config(t, "[server]\nmanager_token = \"m\"\nreporter_token = \"r\"\n"+configtest.Branding+`
[[probe.service]]
id = "web"
label = "Web"
`)
	if len(cfg.Probe.Services) != 1 || cfg.Probe.Services[0].ID != "web" {
		t.Errorf("services %+v", cfg.Probe.Services)
	}
}
