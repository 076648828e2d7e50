package status

import (
	"slices"
	"testing"
	"time"
)

func TestWorst(t *testing.T) {
	tests := []struct{ a, b, want Health }{
		{Healthy, Healthy, Healthy},
		{Healthy, Sick, Sick},
		{Sick, Healthy, Sick},
		{Sick, Dead, Dead},
		{Dead, Healthy, Dead},
		{Dead, Sick, Dead},
	}
	for _, tt := range tests {
		if got := Worst(tt.a, tt.b); got != tt.want {
			t.Errorf("Worst(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestHealthText(t *testing.T) {
	for _, h := range []Health{Healthy, Sick, Dead} {
		b, err := h.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", h, err)
		}
		var back Health
		if err := back.UnmarshalText(b); err != nil || back != h {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, back, err, h)
		}
	}
	for _, bad := range []string{"", "Healthy", "DEAD", "down"} {
		if _, err := ParseHealth(bad); err == nil {
			t.Errorf("ParseHealth(%q) succeeded, want error", bad)
		}
	}
	if _, err := Health(7).MarshalText(); err == nil {
		t.Error("MarshalText(7) succeeded, want error")
	}
	if got := Dead.Title(); got != "Dead" {
		t.Errorf("Dead.Title() = %q, want Dead", got)
	}
}

func replicas(hs ...Health) []Replica {
	var rs []Replica
	for i, h := range hs {
		rs = append(rs, Replica{ID: string(rune('a' + i)), Health: h})
	}
	return rs
}

func TestRollup(t *testing.T) {
	tests := []struct {
		name        string
		services    []Service
		wantGeneral Health
		wantNodes   [][]Health // per service, per node
		wantSvc     []Health
		wantDead    []string
	}{
		{
			name:        "no services",
			wantGeneral: Healthy,
		},
		{
			name:        "node without replicas is healthy",
			services:    []Service{{ID: "s", Nodes: []Node{{ID: "n"}}}},
			wantGeneral: Healthy,
			wantNodes:   [][]Health{{Healthy}},
			wantSvc:     []Health{Healthy},
		},
		{
			name: "sick replica makes node, service and page sick, and is not listed",
			services: []Service{{ID: "s", Nodes: []Node{
				{ID: "n1", Replicas: replicas(Healthy, Sick)},
				{ID: "n2", Replicas: replicas(Healthy)},
			}}},
			wantGeneral: Sick,
			wantNodes:   [][]Health{{Sick, Healthy}},
			wantSvc:     []Health{Sick},
		},
		{
			name: "worst wins across services and dead list keeps page order",
			services: []Service{
				{ID: "web", Nodes: []Node{
					{ID: "lb", Replicas: replicas(Dead, Healthy, Dead)},
				}},
				{ID: "api", Nodes: []Node{
					{ID: "core", Replicas: replicas(Sick)},
					{ID: "edge", Replicas: replicas(Dead)},
				}},
				{ID: "db", Nodes: []Node{{ID: "pg", Replicas: replicas(Healthy)}}},
			},
			wantGeneral: Dead,
			wantNodes:   [][]Health{{Dead}, {Sick, Dead}, {Healthy}},
			wantSvc:     []Health{Dead, Dead, Healthy},
			wantDead:    []string{"web:lb:a", "web:lb:c", "api:edge:a"},
		},
		{
			name: "stale node health is recomputed",
			services: []Service{{ID: "s", Health: Dead, Nodes: []Node{
				{ID: "n", Health: Dead, Replicas: replicas(Healthy)},
			}}},
			wantGeneral: Healthy,
			wantNodes:   [][]Health{{Healthy}},
			wantSvc:     []Health{Healthy},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			general, dead := Rollup(tt.services)
			if general != tt.wantGeneral {
				t.Errorf("general = %v, want %v", general, tt.wantGeneral)
			}
			if !slices.Equal(dead, tt.wantDead) {
				t.Errorf("dead = %q, want %q", dead, tt.wantDead)
			}
			for si, svc := range tt.services {
				if svc.Health != tt.wantSvc[si] {
					t.Errorf("service %s = %v, want %v", svc.ID, svc.Health, tt.wantSvc[si])
				}
				for ni, node := range svc.Nodes {
					if node.Health != tt.wantNodes[si][ni] {
						t.Errorf("node %s:%s = %v, want %v", svc.ID, node.ID, node.Health, tt.wantNodes[si][ni])
					}
				}
			}
		})
	}
}

func TestSnapshotFind(t *testing.T) {
	s := &Snapshot{Services: []Service{
		{ID: "a", Nodes: []Node{{ID: "x"}}},
		{ID: "b", Nodes: []Node{{ID: "x"}, {ID: "y"}}},
	}}
	svc, node := s.Find("b", "y")
	if svc == nil || svc.ID != "b" || node == nil || node.ID != "y" {
		t.Errorf("Find(b, y) = %v, %v", svc, node)
	}
	if svc, node := s.Find("a", "y"); svc == nil || node != nil {
		t.Errorf("Find(a, y) = %v, %v, want service a and no node", svc, node)
	}
	if svc, node := s.Find("c", "x"); svc != nil || node != nil {
		t.Errorf("Find(c, x) = %v, %v, want nothing", svc, node)
	}
}

// The first round is poll and script replicas only: a push replica that has
// not reported (restored without a report time, say) holds nothing up.
func TestUncheckedCountsPolledReplicasOnly(t *testing.T) {
	checked := time.Unix(1700000000, 0)
	snap := &Snapshot{Services: []Service{{ID: "s", Nodes: []Node{
		{ID: "web", Mode: Poll, Replicas: []Replica{{ID: "a", Checked: checked}, {ID: "b"}}},
		{ID: "job", Mode: Script, Replicas: []Replica{{ID: "c"}}},
		{ID: "app", Mode: Push, Replicas: []Replica{{ID: "d"}}},
		{ID: "box", Mode: Local, Replicas: []Replica{{ID: "e"}}},
	}}}}
	if n := snap.Unchecked(); n != 2 {
		t.Errorf("Unchecked = %d, want 2 (b and c)", n)
	}
	if snap.AllChecked() {
		t.Error("AllChecked with two polled replicas never checked")
	}
	snap.Services[0].Nodes[0].Replicas[1].Checked = checked
	snap.Services[0].Nodes[1].Replicas[0].Checked = checked
	if n := snap.Unchecked(); n != 0 || !snap.AllChecked() {
		t.Errorf("Unchecked = %d, AllChecked = %v once every polled replica was checked", n, snap.AllChecked())
	}
}
