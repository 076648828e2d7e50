package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// The MCP server (/mcp/probes, when [server] mcp_server is on) lets AI
// assistants read the status report: one tool, get_report, answering the
// same JSON as /status/report. It speaks the Streamable HTTP transport with
// stateful sessions (Mcp-Session-Id header), as Vigil does.

// mcpInstructions is the one line a client shows its model about this server.
const mcpInstructions = "Vigil monitors services and their nodes and replicas, and reports their health (healthy, sick or dead) on a public status page; call get_report for the current status."

// mcpTimings are the session timings of the MCP endpoint.
type mcpTimings struct {
	// keepAlive is the interval of the pings the server sends on each
	// session. They travel on the client's event stream (GET), so proxies
	// that close idle streams keep it open, and a client that answers them
	// keeps its session.
	keepAlive time.Duration
	// idle closes a session that has sent no request for this long (answers
	// to pings count). Without it, sessions of clients that went away would
	// pile up on a public endpoint. A client whose session was closed gets
	// 404 and, as the MCP spec asks, starts a new one.
	idle time.Duration
	// maxSessions bounds the sessions (see sessionCap); 0 means [server]
	// mcp_sessions_max.
	maxSessions int
}

var defaultMCPTimings = mcpTimings{keepAlive: 30 * time.Second, idle: 30 * time.Minute}

// mcpHandler builds the MCP endpoint.
func (s *Server) mcpHandler(t mcpTimings) http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "vigil", Title: "Vigil", Version: s.version}, &mcp.ServerOptions{
		Instructions: mcpInstructions,
		KeepAlive:    t.keepAlive,
		// The event stream is optional in MCP: a client that never opens it
		// cannot receive the pings, which then fail at once. The SDK would
		// close such a session at the first failure; the idle timeout
		// collects sessions instead, so keep-alive failures never do.
		KeepAliveFailureThreshold: math.MaxInt,
		// Advertise the tool only (no logging capability: nothing is logged
		// to clients).
		Capabilities: &mcp.ServerCapabilities{},
	})
	s.mcpServer = srv
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "get_report",
		Title:       "Status report",
		Description: "Returns the current health of the status page and of every probe (service), its nodes and their replicas, the same JSON as GET /status/report.",
		InputSchema: &jsonschema.Schema{Type: "object"},
		// Checked by the SDK on every call: the answer cannot drift from
		// what clients were told.
		OutputSchema: reportSchema(),
		Annotations:  &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(false)},
	}, s.mcpGetReport)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		SessionTimeout: t.idle,
		// The SDK answers 403 to a request that reaches a loopback address
		// with a non-loopback Host (DNS rebinding protection). That is every
		// request of the usual deployment, a reverse proxy in front of
		// Vigil's default [::1]:8080; and the endpoint is public and
		// read-only, like the page whose data it serves.
		DisableLocalhostProtection: true,
		Logger:                     s.log,
		// An MCP request of this server's is a few hundred bytes; the SDK's
		// default (4 MiB) lets slow clients hold that much each.
		MaxRequestBodyBytes: mcpMaxBody,
	})
	maxSessions := cmp.Or(t.maxSessions, s.cfg.Server.MCPSessionsMax, config.Default().Server.MCPSessionsMax)
	return newSessionCap(srv, maxSessions, s.now).wrap(h)
}

// mcpMaxBody bounds an MCP request body: get_report takes no argument, and
// initialize carries the client's name and capabilities.
const mcpMaxBody = 64 << 10

// mcpGetReport answers get_report with the bytes /status/report serves.
func (s *Server) mcpGetReport(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
	rd := s.currentReport()
	if rd.err != nil {
		return nil, nil, rd.err // a tool error (isError), with its text
	}
	return nil, json.RawMessage(rd.body), nil
}

// reportSchema describes the report for the tool's output schema: the
// inferred schema of the report type, with health values as the strings
// they marshal to.
func reportSchema() *jsonschema.Schema {
	health := &jsonschema.Schema{Type: "string", Enum: []any{
		status.Healthy.String(), status.Sick.String(), status.Dead.String(),
	}}
	schema, err := jsonschema.For[report](&jsonschema.ForOptions{
		TypeSchemas: map[reflect.Type]*jsonschema.Schema{reflect.TypeFor[status.Health](): health},
	})
	if err != nil {
		// The report type is fixed: every test run would fail here first.
		panic(fmt.Sprintf("web: infer the report schema: %v", err))
	}
	return schema
}

// CloseSessions ends every MCP session, and with them the event streams
// their clients hold open: register it with http.Server.RegisterOnShutdown,
// or a graceful shutdown waits for those streams until its deadline. It does
// nothing when the MCP server is off.
func (s *Server) CloseSessions() {
	if s.mcpServer == nil {
		return
	}
	for ss := range s.mcpServer.Sessions() {
		if err := ss.Close(); err != nil {
			s.log.Debug("close MCP session", "session", ss.ID(), "err", err)
		}
	}
}
