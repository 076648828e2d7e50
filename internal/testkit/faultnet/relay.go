// Package faultnet gives tests a TCP relay they can make sick: it forwards
// to a real server (a database, a channel's API) until told to refuse
// connections or to hang them, so that a test meets the faults a network
// and a server really produce, on a real connection.
package faultnet

import (
	"net"
	"slices"
	"sync"
	"testing"
)

// Mode is how the relay treats connections.
type Mode int

const (
	// Pass forwards every byte both ways.
	Pass Mode = iota
	// Refuse closes every connection, open or new, at once.
	Refuse
	// Hang keeps every connection open, open or new, and forwards nothing:
	// a server that accepted and never answers.
	Hang
	// Partition is a network that silently drops everything, closes
	// included: bytes and a close from either end are held, so neither end
	// learns that the other gave up, and a new connection is accepted but
	// reaches nothing. Back in Pass, what was held goes through, as a
	// healed network delivers retransmitted segments.
	Partition
)

// Relay is a TCP relay on loopback to one upstream address.
type Relay struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	mode  Mode
	conns map[net.Conn]bool // both ends of every open relayed connection
	wake  *sync.Cond        // signalled when mode changes
}

// Start relays a new loopback port to upstream until the test ends.
func Start(t testing.TB, upstream string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	r.wake = sync.NewCond(&r.mu)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Set changes the mode for open and new connections.
func (r *Relay) Set(m Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = m
	if m == Refuse {
		for c := range r.conns {
			c.Close()
		}
	}
	r.wake.Broadcast()
}

func (r *Relay) close() {
	r.ln.Close()
	r.Set(Refuse)
}

func (r *Relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.serve(c)
	}
}

func (r *Relay) serve(c net.Conn) {
	r.mu.Lock()
	mode := r.mode
	r.mu.Unlock()
	if mode == Refuse {
		c.Close()
		return
	}
	if !r.waitWhile(Partition) {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", r.upstream)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	r.conns[c], r.conns[up] = true, true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		delete(r.conns, up)
		r.mu.Unlock()
		c.Close()
		up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { r.pipe(up, c); done <- struct{}{} }()
	go func() { r.pipe(c, up); done <- struct{}{} }()
	<-done
}

// waitWhile blocks while the relay is in one of modes; it reports whether
// the connection may go on (false: the relay refuses now).
func (r *Relay) waitWhile(modes ...Mode) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for slices.Contains(modes, r.mode) {
		r.wake.Wait()
	}
	return r.mode != Refuse
}

// pipe copies src to dst, holding each chunk while the relay hangs or is
// partitioned, and a close while it is partitioned.
func (r *Relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !r.waitWhile(Hang, Partition) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			r.waitWhile(Partition)
			return
		}
	}
}
