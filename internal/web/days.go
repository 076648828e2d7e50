package web

import (
	"iter"

	"github.com/vigil-go/vigil/internal/store"
)

// dayList is a node's days, oldest first, kept as indexes into the table of
// the distinct days of one history load. Nodes share most of their days (a
// day without data, a day healthy throughout with the same checks), and a
// full record per node and day was most of the memory of a page of
// thousands of nodes: 5000 nodes × 90 days × 112 bytes.
type dayList struct {
	table *[]store.Day // shared by every list of the load; complete once the load is
	idx   []uint32
}

// Len returns the number of days.
func (l dayList) Len() int { return len(l.idx) }

// All yields the days, oldest first.
func (l dayList) All() iter.Seq2[int, store.Day] {
	return func(yield func(int, store.Day) bool) {
		for i, x := range l.idx {
			if !yield(i, (*l.table)[x]) {
				return
			}
		}
	}
}

// dayTable collects the distinct days of one history load.
type dayTable struct {
	days  []store.Day
	index map[store.Day]uint32
}

// list returns days as a list of t's entries, adding the ones t lacks.
func (t *dayTable) list(days []store.Day) dayList {
	if t.index == nil {
		t.index = make(map[store.Day]uint32)
	}
	l := dayList{table: &t.days, idx: make([]uint32, len(days))}
	for i, d := range days {
		x, ok := t.index[d]
		if !ok {
			x = uint32(len(t.days))
			t.days = append(t.days, d)
			t.index[d] = x
		}
		l.idx[i] = x
	}
	return l
}

// done drops what only building needed.
func (t *dayTable) done() { t.index = nil }
