package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vigil-go/vigil/internal/status"
)

// TestMCPServer runs vigil with mcp_server = true: an MCP client reads the
// report through get_report, and a graceful stop does not wait for the
// client's open event stream.
func TestMCPServer(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(target.Close)
	cfg := baseConfig(t, []string{target.URL + "/health"}, "")
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(raw), "[server]\n", "[server]\nmcp_server = true\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	v := startVigil(t, cfg)
	v.waitReport(t, "the replica checked healthy", func(r statusReport) bool { return r.Health == status.Healthy })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "vigil-test", Version: "v0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: v.url + "mcp/probes", MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect to %smcp/probes: %v", v.url, err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_report", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("get_report: %v %+v", err, res)
	}
	structured, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(structured, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v.get(t, "status/report")), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get_report = %s\nwant GET /status/report = %v", structured, want)
	}

	v.stop(t)
	if out := v.output(); strings.Contains(out, "http shutdown") {
		t.Errorf("the shutdown waited for the MCP client:\n%s", out)
	}
}
