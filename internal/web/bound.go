package web

import (
	"io"
	"sync"
	"time"
)

// Serving must never take the CPU that checks need. The documents a crowd
// reads (the page, the report, the history feeds) are rendered once per
// state and kept as bytes (memo in cache.go); their renders are spaced out
// when they are expensive and share a few render slots, given here.

// shareRenderSlots gives the server's documents one set of render slots: at
// most half of the CPUs render at once, whatever the documents.
func (s *Server) shareRenderSlots() {
	slots := newRenderSlots()
	for _, m := range []*chan struct{}{&s.page.slots, &s.report.slots, &s.incidents.slots, &s.feed.slots} {
		*m = slots
	}
}

// Writing a big body costs CPU too: on loopback, or to fast clients, a
// 6 MB page is a copy the kernel makes as fast as one CPU allows, and 64
// connections reading it at once take every CPU there is. A body of
// spacedAbove bytes or more (a page of hundreds of nodes) is therefore
// written in chunks of writeChunk, each while holding one of writeSlots
// (half of the CPUs), so that writes to fast clients share those CPUs and
// the others stay free for the checks; small chunks let the checks' work in
// between. A chunk that a slow client does not take at once holds its slot
// for at most slotHold: such a client is paced by its network, not by the
// CPU, and the rest of its body is written without a slot, so that it never
// holds the others up. Smaller bodies are one write: a slot and its timer
// per chunk halved the rate of a report of 1000 nodes (77 KB). Chunks of
// 256 KB rather than 32 KB served a 5000-node page and the Statuspage
// summary of 1000 nodes 10% and 65% faster with the checks still on time
// (bench/RESULTS.md).
const (
	writeChunk = 256 << 10
	slotHold   = 20 * time.Millisecond
)

var writeSlots = newRenderSlots()

// writeBounded writes body to w as described above.
func writeBounded(w io.Writer, body []byte) error {
	if len(body) < spacedAbove {
		_, err := w.Write(body)
		return err
	}
	slow := false
	for len(body) > 0 {
		n := min(len(body), writeChunk)
		var err error
		if slow {
			_, err = w.Write(body[:n])
		} else {
			slow, err = writeInSlot(w, body[:n])
		}
		if err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// writeInSlot writes chunk while holding a write slot, and reports whether
// the write outlasted slotHold (the slot is then given up at slotHold).
func writeInSlot(w io.Writer, chunk []byte) (slow bool, err error) {
	writeSlots <- struct{}{}
	var once sync.Once
	release := func() { once.Do(func() { <-writeSlots }) }
	timer := time.AfterFunc(slotHold, release)
	start := time.Now()
	_, err = w.Write(chunk)
	timer.Stop()
	release()
	return time.Since(start) >= slotHold, err
}
