package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// headerRecorder is a client transport that records the Mcp-Session-Id
// header of the response to the initialize request, and can make requests
// look as if they came through a reverse proxy (another Host on a loopback
// connection).
type headerRecorder struct {
	host string // "" keeps the URL's host

	streams atomic.Int64 // event streams (GET) the server accepted

	mu          sync.Mutex
	initialized bool   // an initialize request was answered
	sessionID   string // the header of its response
}

func (h *headerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if h.host != "" {
		req.Host = h.host
	}
	// The client may try other methods first (server/discover of newer
	// protocol versions): find the initialize request by its body.
	var msg struct {
		Method string `json:"method"`
	}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		_ = json.Unmarshal(body, &msg) // a batch or an empty body is not initialize
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == http.MethodGet && res.StatusCode == http.StatusOK {
		h.streams.Add(1)
	}
	if err == nil && msg.Method == "initialize" {
		h.mu.Lock()
		h.initialized, h.sessionID = true, res.Header.Get("Mcp-Session-Id")
		h.mu.Unlock()
	}
	return res, err
}

// initializeSessionID returns the Mcp-Session-Id of the initialize response.
func (h *headerRecorder) initializeSessionID(t *testing.T) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.initialized {
		t.Fatal("the client sent no initialize request")
	}
	return h.sessionID
}

// mcpConnect connects a real MCP client of the SDK to endpoint.
func mcpConnect(t *testing.T, endpoint string, rt http.RoundTripper, disableSSE bool, mw ...mcp.Middleware) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "vigil-test", Version: "v0"}, nil)
	c.AddReceivingMiddleware(mw...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             endpoint,
		HTTPClient:           &http.Client{Transport: rt},
		MaxRetries:           -1,
		DisableStandaloneSSE: disableSSE,
	}, nil)
	if err != nil {
		t.Fatalf("connect to %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// callGetReport calls get_report and returns its structured content and
// text, both decoded.
func callGetReport(t *testing.T, cs *mcp.ClientSession) (structured, text any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_report", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("call get_report: %v", err)
	}
	if res.IsError {
		t.Fatalf("get_report answered an error: %+v", res.Content)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatalf("marshal structured content: %v", err)
	}
	if err := json.Unmarshal(raw, &structured); err != nil {
		t.Fatalf("decode structured content %s: %v", raw, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("get_report content = %d blocks, want 1 text block", len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("get_report content[0] is %T, want text", res.Content[0])
	}
	if err := json.Unmarshal([]byte(tc.Text), &text); err != nil {
		t.Fatalf("get_report text is not JSON (%v): %s", err, tc.Text)
	}
	return structured, text
}

// statusReport returns GET /status/report, decoded.
func statusReport(t *testing.T, ts *testServer) any {
	t.Helper()
	res := ts.get(t, "/status/report")
	if res.code != http.StatusOK {
		t.Fatalf("GET /status/report = %d", res.code)
	}
	var v any
	if err := json.Unmarshal([]byte(res.body), &v); err != nil {
		t.Fatalf("decode /status/report: %v", err)
	}
	return v
}

func mcpTestServer(t *testing.T) *testServer {
	t.Helper()
	cfg := testConfig(t)
	cfg.Server.MCPServer = true
	return newTestServer(t, Options{Config: cfg})
}

func TestMCPSessionAndTools(t *testing.T) {
	ts := mcpTestServer(t)
	rec := &headerRecorder{}
	cs := mcpConnect(t, ts.URL+"/mcp/probes", rec, false)

	// Stateful: the initialize response carries the session id, and the
	// client uses it.
	id := rec.initializeSessionID(t)
	if id == "" {
		t.Fatal("initialize response has no Mcp-Session-Id header")
	}
	if cs.ID() != id {
		t.Errorf("client session id = %q, want the header's %q", cs.ID(), id)
	}

	init := cs.InitializeResult()
	if init.ServerInfo == nil || init.ServerInfo.Name != "vigil" || init.ServerInfo.Version != "1.2.3" {
		t.Errorf("server info = %+v, want vigil 1.2.3", init.ServerInfo)
	}
	if init.Instructions == "" || strings.Contains(init.Instructions, "\n") || !strings.Contains(init.Instructions, "Vigil") {
		t.Errorf("instructions = %q, want one line about Vigil", init.Instructions)
	}
	if init.Capabilities == nil || init.Capabilities.Tools == nil {
		t.Errorf("capabilities = %+v, want tools", init.Capabilities)
	}

	ctx := context.Background()
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("list tools: %v", err)
	}
	if len(list.Tools) != 1 || list.Tools[0].Name != "get_report" {
		names := []string{}
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
		}
		t.Fatalf("tools = %v, want exactly [get_report]", names)
	}
	tool := list.Tools[0]
	in, err := json.Marshal(tool.InputSchema)
	if err != nil {
		t.Fatal(err)
	}
	var inSchema map[string]any
	if err := json.Unmarshal(in, &inSchema); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inSchema, map[string]any{"type": "object"}) {
		t.Errorf("get_report input schema = %s, want an empty object", in)
	}
	out, err := json.Marshal(tool.OutputSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"health"`, `"probes"`, `"replicas"`, `"enum":["healthy","sick","dead"]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("get_report output schema lacks %s: %s", want, out)
		}
	}
	if tool.Annotations == nil || !tool.Annotations.ReadOnlyHint {
		t.Errorf("get_report annotations = %+v, want read-only", tool.Annotations)
	}
}

func TestMCPGetReportIsStatusReport(t *testing.T) {
	ts := mcpTestServer(t)
	cs := mcpConnect(t, ts.URL+"/mcp/probes", &headerRecorder{}, false)

	check := func(what string) {
		t.Helper()
		want := statusReport(t, ts)
		structured, text := callGetReport(t, cs)
		if !reflect.DeepEqual(structured, want) {
			t.Errorf("%s: get_report structured content =\n%v\nwant GET /status/report's\n%v", what, structured, want)
		}
		if !reflect.DeepEqual(text, want) {
			t.Errorf("%s: get_report text =\n%v\nwant GET /status/report's\n%v", what, text, want)
		}
		if structured.(map[string]any)["health"] == nil {
			t.Fatalf("%s: report without health: %v", what, structured)
		}
	}
	check("sample state")
	if got := statusReport(t, ts).(map[string]any)["health"]; got != "dead" {
		t.Fatalf("sample state health = %v, want dead", got)
	}

	// A new monitor state reaches the tool in the same session.
	ts.src.Set(healthServices(status.Sick), testNow)
	check("after a change")
	structured, _ := callGetReport(t, cs)
	if got := structured.(map[string]any)["health"]; got != "sick" {
		t.Errorf("get_report health after the change = %v, want sick", got)
	}
}

// Clients reach Vigil through a reverse proxy (a Host that is not loopback
// on a loopback connection) and write the endpoint with a trailing slash.
func TestMCPBehindProxyWithTrailingSlash(t *testing.T) {
	ts := mcpTestServer(t)
	rec := &headerRecorder{host: "status.acme.test"}
	cs := mcpConnect(t, ts.URL+"/mcp/probes/", rec, false)
	if rec.initializeSessionID(t) == "" {
		t.Error("initialize response has no Mcp-Session-Id header")
	}
	structured, _ := callGetReport(t, cs)
	if want := statusReport(t, ts); !reflect.DeepEqual(structured, want) {
		t.Errorf("get_report = %v, want %v", structured, want)
	}
}

func TestMCPDisabled(t *testing.T) {
	ts := newTestServer(t, Options{}) // mcp_server defaults to false
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`
	for _, path := range []string{"/mcp/probes", "/mcp/probes/"} {
		req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(initialize))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s with mcp_server = false: %d, want 404", path, res.StatusCode)
		}
		if got := ts.get(t, path, "Accept", "text/event-stream"); got.code != http.StatusNotFound {
			t.Errorf("GET %s with mcp_server = false: %d, want 404", path, got.code)
		}
	}

	// The same request is answered when the server is on, so the 404 above
	// is the switch, not a malformed request.
	on := mcpTestServer(t)
	req, err := http.NewRequest(http.MethodPost, on.URL+"/mcp/probes", strings.NewReader(initialize))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Mcp-Session-Id") == "" {
		t.Errorf("POST /mcp/probes with mcp_server = true: %d, session %q; want 200 with a session id",
			res.StatusCode, res.Header.Get("Mcp-Session-Id"))
	}
	if got := on.do(t, http.MethodPut, "/mcp/probes"); got.code != http.StatusMethodNotAllowed || got.header.Get("Allow") != "GET, POST, DELETE" {
		t.Errorf("PUT /mcp/probes = %d, Allow %q; want 405 with GET, POST, DELETE", got.code, got.header.Get("Allow"))
	}
}

// pingCounter is a client middleware counting the server's pings.
type pingCounter struct{ n atomic.Int64 }

func (p *pingCounter) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "ping" {
			p.n.Add(1)
		}
		return next(ctx, method, req)
	}
}

// waitPings waits until the client has answered n pings.
func (p *pingCounter) waitPings(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.n.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("client answered %d pings in 30 s, want %d", p.n.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The keep-alive pings reach a client on its event stream, and its answers
// keep the session open past the idle timeout; a client without an event
// stream, which the pings cannot reach, keeps its session too.
func TestMCPKeepAlive(t *testing.T) {
	src := &testkit.Source{}
	src.Set(sampleServices(status.Dead), testNow)
	s, err := New(context.Background(), Options{Config: testConfig(t), Source: src})
	if err != nil {
		t.Fatal(err)
	}
	const keepAlive, idle = 20 * time.Millisecond, 1 * time.Second
	srv := httptest.NewServer(s.mcpHandler(mcpTimings{keepAlive: keepAlive, idle: idle}))
	t.Cleanup(srv.Close)

	quiet := mcpConnect(t, srv.URL, &headerRecorder{}, true) // no event stream
	var pings pingCounter
	listening := mcpConnect(t, srv.URL, &headerRecorder{}, false, pings.middleware)

	// Enough pings that the quiet session has had several keep-alive
	// failures.
	pings.waitPings(t, 5)
	callGetReport(t, quiet)

	// Longer than the idle timeout with no request but the ping answers.
	pings.waitPings(t, int64(2*idle/keepAlive))
	callGetReport(t, listening)
}

// A client's event stream is a request that never ends on its own: the
// server must end it when the HTTP server shuts down, or a graceful shutdown
// would wait for it until its deadline.
func TestMCPSessionsEndOnShutdown(t *testing.T) {
	s := newMCPSite(t, 0)
	srv := httptest.NewUnstartedServer(s)
	srv.Config.RegisterOnShutdown(s.CloseSessions)
	srv.Start()
	t.Cleanup(srv.Close)

	rec := &headerRecorder{}
	cs := mcpConnect(t, srv.URL+"/mcp/probes", rec, false)
	callGetReport(t, cs)
	deadline := time.Now().Add(30 * time.Second)
	for rec.streams.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the client opened no event stream in 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Far longer than a shutdown needs; a shutdown that waits for the event
	// stream runs into it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an MCP client connected: %v", err)
	}
}

// newMCPSite is a server with the MCP endpoint on, at most maxSessions
// sessions (0: the default), over sampleServices.
func newMCPSite(tb testing.TB, maxSessions int) *Server {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Server.MCPServer = true
	cfg.Server.MCPSessionsMax = maxSessions
	src := &testkit.Source{}
	src.Set(sampleServices(status.Dead), testNow)
	s, err := New(context.Background(), Options{Config: cfg, Source: src})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
