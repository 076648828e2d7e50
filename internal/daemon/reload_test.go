package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/testkit"
)

// A config that loads but whose web server cannot be built (a custom theme
// whose template does not parse) is refused as a whole: the node it adds
// is not probed or shown, and the page keeps its theme.
func TestReloadRefusedWhenTheSiteCannotBeBuilt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.cfg")
	base := strings.Replace(pushNodeConfig(dir, ""), `log_level = "off"`, `log_level = "info"`, 1)
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	theme := filepath.Join(dir, "theme")
	if err := os.MkdirAll(filepath.Join(theme, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(theme, "templates", "index.html"), []byte("{{ .Broken "), 0o600); err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(base, "[storage]", "[assets]\npath = \""+theme+"\"\n\n[storage]", 1) +
		"\n[[probe.service.node]]\nid = \"added\"\nlabel = \"Added\"\nmode = \"push\"\n"
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}

	out := &testkit.LogBuffer{}
	reload := make(chan struct{})
	ready := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Version: "test", Stdout: out, Reload: reload, Ready: func(a net.Addr) { ready <- a }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	addr := <-ready
	reload <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "the running config stays") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), `level=ERROR msg="config reload refused: assets path `+theme+`: parse templates`) {
		t.Errorf("the theme's error is not logged:\n%s", out)
	}
	resp, err := http.Get("http://" + addr.String() + "/status/report")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "Added") || !strings.Contains(string(body), "Push") {
		t.Errorf("/status/report after a refused reload = %s, want the running nodes only", body)
	}
	if strings.Contains(out.String(), `msg="config reloaded"`) {
		t.Errorf("a refused reload logged as applied:\n%s", out)
	}
}
