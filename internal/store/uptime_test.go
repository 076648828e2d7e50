package store

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// t0 is the start of every test timeline: a Sunday, midnight UTC.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus m minutes.
func at(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

func mins(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

func sp(a, b float64) span { return span{at(a), at(b)} }

func pt(m float64, h status.Health) point { return point{at(m), h} }

func TestUptime(t *testing.T) {
	const H, S, D = status.Healthy, status.Sick, status.Dead
	tests := []struct {
		name         string
		since, until float64
		points       []point
		running      []span
		maintenance  []span
		want         UptimeReport
		worst        status.Health
	}{
		{
			name: "all up", since: 0, until: 60,
			points: []point{pt(0, H)}, running: []span{sp(0, 60)},
			want: UptimeReport{Up: mins(60), Ratio: 1, HasData: true},
		},
		{
			name: "sick counts as up", since: 0, until: 60,
			points: []point{pt(0, H), pt(20, S), pt(30, H)}, running: []span{sp(0, 60)},
			want:  UptimeReport{Up: mins(60), Ratio: 1, HasData: true},
			worst: S,
		},
		{
			name: "down for a quarter", since: 0, until: 60,
			points: []point{pt(0, H), pt(15, D), pt(30, H)}, running: []span{sp(0, 60)},
			want:  UptimeReport{Up: mins(45), Down: mins(15), Ratio: 0.75, HasData: true},
			worst: D,
		},
		{
			name: "vigil not running is no data, never up", since: 0, until: 60,
			points: []point{pt(0, H)}, running: []span{sp(0, 20), sp(40, 60)},
			want: UptimeReport{Up: mins(40), NoData: mins(20), Ratio: 1, HasData: true},
		},
		{
			name: "dead across a gap: only running time counts", since: 0, until: 60,
			points: []point{pt(0, H), pt(10, D), pt(50, H)}, running: []span{sp(0, 20), sp(40, 60)},
			want:  UptimeReport{Up: mins(20), Down: mins(20), NoData: mins(20), Ratio: 0.5, HasData: true},
			worst: D,
		},
		{
			name: "no running interval at all", since: 0, until: 60,
			points: []point{pt(0, D)},
			want:   UptimeReport{NoData: mins(60)},
		},
		{
			name: "window entirely without data", since: 100, until: 160,
			points: []point{pt(0, D)}, running: []span{sp(0, 90), sp(170, 200)},
			want: UptimeReport{NoData: mins(60)},
		},
		{
			name: "no status recorded yet", since: 0, until: 60,
			points: []point{pt(30, H)}, running: []span{sp(0, 60)},
			want: UptimeReport{Up: mins(30), NoData: mins(30), Ratio: 1, HasData: true},
		},
		{
			name: "status before the range carries in", since: 60, until: 120,
			points: []point{pt(0, D), pt(90, H)}, running: []span{sp(0, 120)},
			want:  UptimeReport{Up: mins(30), Down: mins(30), Ratio: 0.5, HasData: true},
			worst: D,
		},
		{
			name: "maintenance overlapping downtime is left out", since: 0, until: 60,
			points: []point{pt(0, H), pt(10, D), pt(30, H)}, running: []span{sp(0, 60)},
			maintenance: []span{sp(5, 25)},
			want:        UptimeReport{Up: mins(35), Down: mins(5), Maintenance: mins(20), Ratio: 35.0 / 40, HasData: true},
			worst:       D,
		},
		{
			name: "maintenance covering downtime entirely", since: 0, until: 60,
			points: []point{pt(0, H), pt(10, D), pt(30, H)}, running: []span{sp(0, 60)},
			maintenance: []span{sp(0, 40)},
			want:        UptimeReport{Up: mins(20), Maintenance: mins(40), Ratio: 1, HasData: true},
			worst:       D,
		},
		{
			name: "maintenance wins over no data", since: 0, until: 60,
			points: []point{pt(0, H)}, running: []span{sp(0, 20)},
			maintenance: []span{sp(10, 30)},
			want:        UptimeReport{Up: mins(10), Maintenance: mins(20), NoData: mins(30), Ratio: 1, HasData: true},
		},
		{
			name: "overlapping windows and instances are counted once", since: 0, until: 60,
			points: []point{pt(0, D)}, running: []span{sp(0, 30), sp(10, 40), sp(40, 50)},
			maintenance: []span{sp(20, 35), sp(25, 45)},
			want:        UptimeReport{Down: mins(25), Maintenance: mins(25), NoData: mins(10), HasData: true},
			worst:       D,
		},
		{
			name: "spans outside the range are clipped", since: 30, until: 60,
			points: []point{pt(0, H)}, running: []span{sp(-100, 200)},
			maintenance: []span{sp(0, 40), sp(55, 90)},
			want:        UptimeReport{Up: mins(15), Maintenance: mins(15), Ratio: 1, HasData: true},
		},
		{
			name: "changes at one instant: the last wins", since: 0, until: 60,
			points: []point{pt(0, H), pt(30, D), pt(30, H)}, running: []span{sp(0, 60)},
			want: UptimeReport{Up: mins(60), Ratio: 1, HasData: true},
		},
		{
			name: "empty range", since: 60, until: 60,
			points: []point{pt(0, H)}, running: []span{sp(0, 120)},
			want: UptimeReport{},
		},
		{
			name: "reversed range", since: 60, until: 30,
			points: []point{pt(0, H)}, running: []span{sp(0, 120)},
			want: UptimeReport{},
		},
		{
			name: "dead while vigil was stopped does not make the worst", since: 0, until: 60,
			points: []point{pt(0, H), pt(25, D), pt(35, H)}, running: []span{sp(0, 20), sp(40, 60)},
			want: UptimeReport{Up: mins(40), NoData: mins(20), Ratio: 1, HasData: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, worst := uptime(at(tt.since), at(tt.until), tt.points, tt.running, tt.maintenance)
			if got != tt.want {
				t.Errorf("uptime = %+v, want %+v", got, tt.want)
			}
			if worst != tt.worst {
				t.Errorf("uptime worst = %v, want %v", worst, tt.worst)
			}
			if sum := got.Up + got.Down + got.NoData + got.Maintenance; tt.until > tt.since && sum != at(tt.until).Sub(at(tt.since)) {
				t.Errorf("uptime parts add up to %v, want %v", sum, at(tt.until).Sub(at(tt.since)))
			}
		})
	}
}

func TestUnion(t *testing.T) {
	tests := []struct {
		name string
		in   []span
		want []span
	}{
		{"empty", nil, nil},
		{"disjoint, unsorted", []span{sp(30, 40), sp(0, 10)}, []span{sp(0, 10), sp(30, 40)}},
		{"touching merge", []span{sp(0, 10), sp(10, 20)}, []span{sp(0, 20)}},
		{"nested", []span{sp(0, 50), sp(10, 20)}, []span{sp(0, 50)}},
		{"clipped and empty dropped", []span{sp(-10, 5), sp(95, 120), sp(50, 50), sp(200, 300)}, []span{sp(0, 5), sp(95, 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := union(tt.in, at(0), at(100))
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("union(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestWindowCovers(t *testing.T) {
	tests := []struct {
		targets       []string
		service, node string
		want          bool
	}{
		{nil, "web", "a", true},
		{nil, "", "", true},
		{[]string{"web"}, "web", "a", true},
		{[]string{"web"}, "web", "", true},
		{[]string{"web"}, "db", "a", false},
		{[]string{"web"}, "", "", false},
		{[]string{"web:a"}, "web", "a", true},
		{[]string{"web:a"}, "web", "b", false},
		{[]string{"web:a"}, "web", "", false},
		{[]string{"db", "web:b"}, "web", "b", true},
		{[]string{"webx"}, "web", "a", false},
	}
	for _, tt := range tests {
		w := Window{Targets: tt.targets}
		if got := w.Covers(tt.service, tt.node); got != tt.want {
			t.Errorf("Window{Targets: %q}.Covers(%q, %q) = %v, want %v", tt.targets, tt.service, tt.node, got, tt.want)
		}
	}
}

func TestWindowValidate(t *testing.T) {
	ok := Window{Start: at(0), End: at(10), Targets: []string{"web", "web:a"}}
	if err := ok.validate(); err != nil {
		t.Errorf("validate(%+v) = %v, want nil", ok, err)
	}
	bad := []Window{
		{Start: at(10), End: at(10)},
		{Start: at(10), End: at(0)},
		{End: at(10)},
		{Start: at(0), End: at(10), Targets: []string{""}},
		{Start: at(0), End: at(10), Targets: []string{":a"}},
		{Start: at(0), End: at(10), Targets: []string{"web:"}},
		{Start: at(0), End: at(10), Targets: []string{"web:a:r"}},
	}
	for _, w := range bad {
		if err := w.validate(); err == nil {
			t.Errorf("validate(%+v) = nil, want an error", w)
		}
	}
}

func TestBucketAdd(t *testing.T) {
	var b Bucket
	b.add(Bucket{Healthy: 1})
	b.add(Bucket{Dead: 1, LatencyCount: 1, LatencyMin: 30, LatencyMax: 30, LatencySum: 30})
	b.add(Bucket{Sick: 2, LatencyCount: 2, LatencyMin: 10, LatencyMax: 50, LatencySum: 60})
	want := Bucket{Healthy: 1, Sick: 2, Dead: 1, LatencyCount: 3, LatencyMin: 10, LatencyMax: 50, LatencySum: 90}
	if b != want {
		t.Errorf("merged bucket = %+v, want %+v", b, want)
	}
	if b.Checks() != 4 || b.Worst() != status.Dead || b.LatencyAvg() != 30 {
		t.Errorf("Checks, Worst, LatencyAvg = %d, %v, %v, want 4, dead, 30ns", b.Checks(), b.Worst(), b.LatencyAvg())
	}
	if (Bucket{}).LatencyAvg() != 0 || (Bucket{}).Worst() != status.Healthy {
		t.Errorf("empty bucket: LatencyAvg %v, Worst %v, want 0, healthy", (Bucket{}).LatencyAvg(), (Bucket{}).Worst())
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newUUID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsAny(id[19:20], "89ab") || id[8] != '-' || id[23] != '-' {
			t.Fatalf("newUUID() = %q, want a lower-case hyphenated v4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newUUID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestMigrationsMatch(t *testing.T) {
	lite, err := migrations(SQLite)
	if err != nil {
		t.Fatalf("migrations(sqlite): %v", err)
	}
	pg, err := migrations(Postgres)
	if err != nil {
		t.Fatalf("migrations(postgres): %v", err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("migrations: %d for sqlite, %d for postgres; want the same, non-zero", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].version != pg[i].version || lite[i].name != pg[i].name {
			t.Errorf("migration %d: sqlite %03d_%s, postgres %03d_%s; want the same", i, lite[i].version, lite[i].name, pg[i].version, pg[i].name)
		}
	}
}
