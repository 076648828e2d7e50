package web

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// TestDayTable checks that lists give back exactly the days they were made
// of, and that a day many nodes share is kept once.
func TestDayTable(t *testing.T) {
	start := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	empty := func(i int) store.Day { return store.Day{Start: start.AddDate(0, 0, i)} }
	healthy := func(i int) store.Day {
		d := empty(i)
		d.Checks, d.Healthy, d.Worst = 86400, 86400, status.Healthy
		d.Uptime = store.UptimeReport{Up: 24 * time.Hour, Ratio: 1, HasData: true}
		return d
	}
	var nodes [][]store.Day
	for n := range 100 {
		var days []store.Day
		for i := range 90 {
			days = append(days, empty(i))
		}
		days[89] = healthy(89)
		if n == 7 { // one node was down on day 88
			days[88] = healthy(88)
			days[88].Healthy, days[88].Dead, days[88].Worst = 86000, 400, status.Dead
		}
		nodes = append(nodes, days)
	}
	var tab dayTable
	lists := make([]dayList, len(nodes))
	for n, days := range nodes {
		lists[n] = tab.list(days)
	}
	tab.done()
	for n, l := range lists {
		var got []store.Day
		for _, d := range l.All() {
			got = append(got, d)
		}
		if l.Len() != 90 || !reflect.DeepEqual(got, nodes[n]) {
			t.Fatalf("node %d: list gives %d days that differ from the %d it was made of", n, len(got), len(nodes[n]))
		}
	}
	// 90 empty days, day 89 healthy, node 7's day 88.
	if len(tab.days) != 91 {
		t.Errorf("table holds %d days, want 91 distinct ones", len(tab.days))
	}
	seen := 0
	for range lists[0].All() {
		if seen++; seen == 3 {
			break
		}
	}
	if seen != 3 {
		t.Errorf("All went on after break: %d days", seen)
	}
	if !slices.Equal(lists[0].idx[:89], lists[1].idx[:89]) {
		t.Error("two nodes with the same days do not share them")
	}
}
