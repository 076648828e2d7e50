package daemon

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestStartOrder checks what a start does before the page is served, now
// that probing starts as soon as the address is taken, before the page
// reads its history: a start whose address is taken fails with the key
// named, having checked nothing and notified nobody; a start that succeeds
// checks, and sends the startup notification only once the page is served.
func TestStartOrder(t *testing.T) {
	var checks, posts atomic.Int64
	var firstPost atomic.Int64 // Unix nanoseconds
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { checks.Add(1) }))
	defer target.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if posts.Add(1) == 1 {
			firstPost.Store(time.Now().UnixNano())
		}
	}))
	defer hook.Close()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(path, []byte(webhookConfig(dir, "inet = "+strconv.Quote(taken.Addr().String()), hook.URL, []string{target.URL + "/health"}, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Options{Config: cfg, Version: "test", Stdout: &testkit.LogBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "server.inet") {
		t.Fatalf("Run on a taken address = %v, want an error naming server.inet", err)
	}
	if c, p := checks.Load(), posts.Load(); c != 0 || p != 0 {
		t.Fatalf("a start that failed made %d checks and %d notifications, want none", c, p)
	}

	var served atomic.Int64
	dir = t.TempDir()
	path = filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(path, []byte(webhookConfig(dir, `inet = "127.0.0.1:0"`, hook.URL, []string{target.URL + "/health"}, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err = config.Load(path, os.LookupEnv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Version: "test", Stdout: &testkit.LogBuffer{},
			Ready: func(net.Addr) { served.Store(time.Now().UnixNano()) }})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for (checks.Load() == 0 || posts.Load() == 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if checks.Load() == 0 || posts.Load() == 0 || served.Load() == 0 {
		t.Fatalf("within 10 s: %d checks, %d notifications, served %v; want all", checks.Load(), posts.Load(), served.Load() != 0)
	}
	if post, ready := firstPost.Load(), served.Load(); post < ready {
		t.Errorf("the startup notification went out %v before the page was served", time.Duration(ready-post))
	}
}
