package faultnet

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestPartition: while partitioned, neither bytes nor a close reach the
// other end; once healed, both do, in order.
func TestPartition(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	r := Start(t, ln.Addr().String())
	client, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	defer server.Close()
	buf := make([]byte, 8)
	if n, err := io.ReadFull(server, buf[:1]); err != nil || string(buf[:n]) != "a" {
		t.Fatalf("passing: read %q, %v", buf[:n], err)
	}

	r.Set(Partition)
	if _, err := client.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	client.Close()
	server.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := server.Read(buf); n != 0 || !isTimeout(err) {
		t.Fatalf("partitioned: the server read %q, %v; want nothing, not even the close", buf[:n], err)
	}

	r.Set(Pass)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "b" {
		t.Fatalf("healed: the server read %q, %v; want \"b\" then the close", got, err)
	}
}

// TestPartitionNewConnection: a connection made while partitioned is
// accepted but reaches the server only once healed.
func TestPartitionNewConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	r := Start(t, ln.Addr().String())
	r.Set(Partition)
	client, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a connection made while partitioned reached the server")
	case <-time.After(300 * time.Millisecond):
	}
	r.Set(Pass)
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not reach the server once healed")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
