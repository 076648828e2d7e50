package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPSessionCap: with mcp_sessions_max sessions open, a new session
// closes the one whose last request is the oldest; the others, the one
// just used included, keep working. Before, every initialize added a
// session (and its goroutines) for 30 minutes.
func TestMCPSessionCap(t *testing.T) {
	s := newMCPSite(t, 3)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	endpoint := srv.URL + "/mcp/probes"

	a := mcpConnect(t, endpoint, &headerRecorder{}, true)
	b := mcpConnect(t, endpoint, &headerRecorder{}, true)
	c := mcpConnect(t, endpoint, &headerRecorder{}, true)
	callGetReport(t, a) // a is in use: b is now the one idle the longest
	d := mcpConnect(t, endpoint, &headerRecorder{}, true)

	// The cap is applied once the handler that opened d returns, which
	// may be just after d's client has its answer.
	open := func() int {
		n := 0
		for range s.mcpServer.Sessions() {
			n++
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); open() != 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := open(); n != 3 {
		t.Errorf("%d sessions open, want the cap, 3", n)
	}
	for _, cs := range []*mcp.ClientSession{a, c, d} {
		callGetReport(t, cs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.CallTool(ctx, &mcp.CallToolParams{Name: "get_report", Arguments: map[string]any{}}); err == nil {
		t.Error("the session idle the longest still answers, want it closed")
	}
}

// TestMCPBodyBound: an MCP request body is bounded far below the SDK's
// default, so that slow or large bodies cannot hold megabytes each.
func TestMCPBodyBound(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.MCPServer = true
	ts := newTestServer(t, Options{Config: cfg})
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"` + strings.Repeat("x", mcpMaxBody) + `"}}`
	res := ts.send(t, http.MethodPost, "/mcp/probes", body,
		"Content-Type", "application/json", "Accept", "application/json, text/event-stream")
	if res.code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /mcp/probes with a %d-byte body = %d %q, want 413", len(body), res.code, res.body)
	}
}
