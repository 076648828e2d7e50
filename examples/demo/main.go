// Command demo runs Vigil on examples/config.cfg together with the small
// services that config watches, all on 127.0.0.1, so a first run shows a live
// page with every probe kind answering:
//
//	go run ./examples/demo
//
// The targets: an HTTP shop on :18081 (a healthy home page, a slow page that
// is "sick", a JSON health endpoint behind a header, and a checkout that fails
// the last 30 s of every 2 minutes), an SSH server on :18022, a TCP "database" on
// :18023 and a cache on :18024 that answers PING as Redis does.
//
// The demo's database (history, push replicas, the alert outbox) lives in a
// new temporary directory removed when the demo stops, so every start is
// fresh: a push report sent to one demo does not turn the next one red.
// To keep it across runs, name a directory:
//
//	go run ./examples/demo -state /tmp/vigil-demo          kept there
//	go run ./examples/demo -state /tmp/vigil-demo -reset   emptied first
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/daemon"
)

func main() {
	path := flag.String("c", "examples/config.cfg", "Vigil config to run")
	state := flag.String("state", "", "directory of the demo's SQLite database, kept across runs (default: a new temporary one, removed at exit)")
	reset := flag.Bool("reset", false, "empty the -state directory before starting")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *path, *state, *reset)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path, state string, reset bool) error {
	cfg, warnings, err := config.Load(path, os.LookupEnv)
	if err != nil {
		return err
	}
	dir, cleanup, err := stateDir(state, reset)
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.Storage.Driver == "sqlite" {
		cfg.Storage.Path = filepath.Join(dir, "vigil.db")
		fmt.Printf("Demo state: %s (%s)\n", cfg.Storage.Path, stateNote(state))
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	shopLn, err := net.Listen("tcp", "127.0.0.1:18081")
	if err != nil {
		return fmt.Errorf("demo target: %w", err)
	}
	shop := &http.Server{Handler: shopHandler(time.Now()), ReadHeaderTimeout: 5 * time.Second}
	wg.Go(func() {
		if err := shop.Serve(shopLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "demo: shop:", err)
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		shop.Close()
	})
	for _, target := range []struct {
		addr  string
		serve func(net.Conn)
	}{
		{"127.0.0.1:18023", func(c net.Conn) { c.Close() }},
		{"127.0.0.1:18022", sshServer()},
		{"127.0.0.1:18024", pong},
	} {
		ln, err := net.Listen("tcp", target.addr)
		if err != nil {
			return fmt.Errorf("demo target: %w", err)
		}
		wg.Go(func() {
			<-ctx.Done()
			ln.Close()
		})
		wg.Go(func() { serveConns(ln, target.serve) })
	}
	return daemon.Run(ctx, daemon.Options{Config: cfg, Warnings: warnings, Version: "demo"})
}

// stateDir returns the directory for the demo's database: state, created
// if needed and emptied first on reset, or a new temporary directory that
// cleanup removes.
func stateDir(state string, reset bool) (dir string, cleanup func(), err error) {
	if state == "" {
		if reset {
			return "", nil, errors.New("-reset empties a -state directory; without -state every run starts fresh anyway")
		}
		dir, err := os.MkdirTemp("", "vigil-demo-")
		if err != nil {
			return "", nil, fmt.Errorf("demo state: %w", err)
		}
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	if reset {
		for _, name := range []string{"vigil.db", "vigil.db-wal", "vigil.db-shm"} {
			if err := os.Remove(filepath.Join(state, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", nil, fmt.Errorf("demo state: reset: %w", err)
			}
		}
	}
	if err := os.MkdirAll(state, 0o750); err != nil {
		return "", nil, fmt.Errorf("demo state: %w", err)
	}
	return state, func() {}, nil
}

func stateNote(state string) string {
	if state == "" {
		return "removed when the demo stops"
	}
	return "kept; -reset starts it afresh"
}

// pong answers "+PONG" to each PING line, as Redis does.
func pong(c net.Conn) {
	defer c.Close()
	lines := bufio.NewScanner(c)
	for lines.Scan() {
		reply := "-ERR unknown command\r\n"
		if strings.TrimSpace(lines.Text()) == "PING" {
			reply = "+PONG\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

func serveConns(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}

// shopHandler is the demo web shop.
func shopHandler(started time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>Acme shop</title><h1>Welcome to the Acme shop</h1>")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select { // slower than poll_delay_sick: the replica shows as sick
		case <-time.After(1200 * time.Millisecond):
		case <-r.Context().Done():
		}
		io.WriteString(w, "eventually")
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Demo-Key") != "let-me-in" {
			http.Error(w, `{"status": "forbidden"}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "ok", "version": "1.4.2"}`)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(started)%(2*time.Minute) >= 90*time.Second {
			http.Error(w, "checkout backend unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	return mux
}

// sshServer answers the SSH handshake with a key made at start; it accepts
// no login, which is all Vigil's SSH probe needs.
func sshServer() func(net.Conn) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // the system's random source is broken
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		panic(err)
	}
	conf := &ssh.ServerConfig{
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
			return nil, errors.New("no logins on the demo server")
		},
	}
	conf.AddHostKey(signer)
	return func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		ssh.NewServerConn(c, conf) // fails at authentication, after the handshake
	}
}
