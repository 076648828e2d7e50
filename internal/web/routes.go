package web

// routes registers every route of the server. It is the one place to look
// for what the server answers: to add the reporter or manager API, write the
// handlers as Server methods in their own file of this package and register
// them here, e.g.
//
//	s.mux.HandleFunc("POST /reporter/{probe}/{node}", s.handleReport)
//
// Paths are registered without trailing slashes: normalizePath has already
// trimmed them (and merged repeated slashes) when the mux sees a request.
// Wildcards are percent-decoded single segments (r.PathValue).
//
// HEAD is answered on every GET route (Go's mux maps HEAD to GET). This is a
// deliberate difference from Vigil, which answers 404: uptime checkers often
// probe a status page with HEAD. Any other wrong method, and any unknown path,
// reaches the catch-all and gets 404 with an empty body, never 405.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.HandleFunc("GET /status/text", s.handleStatusText)
	s.mux.HandleFunc("GET /status/report", s.handleStatusReport)
	s.mux.HandleFunc("GET /badge/{kind}", s.handleBadge)
	s.mux.HandleFunc("GET /robots.txt", s.handleRobots)
	s.statuspageRoutes() // GET /api/v2/…: one route per statuspage.Documents entry

	s.mux.HandleFunc("GET /assets/fonts/{folder}/{file}", s.handleAsset("fonts"))
	s.mux.HandleFunc("GET /assets/images/{folder}/{file}", s.handleAsset("images"))
	s.mux.HandleFunc("GET /assets/stylesheets/{file}", s.handleAsset("stylesheets"))
	s.mux.HandleFunc("GET /assets/javascripts/{file}", s.handleAsset("javascripts"))

	if s.cfg.Server.MCPServer {
		s.mux.Handle("/mcp/probes", s.mcpHandler(defaultMCPTimings)) // POST, GET, DELETE; the SDK answers other methods 405
	}

	if s.reporter != nil {
		token := s.cfg.Server.ReporterToken
		s.mux.HandleFunc("POST /reporter/{probe}/{node}", s.countReports(requireToken(token, refuseBadPath(plainError, s.handleReport))))
		s.mux.HandleFunc("DELETE /reporter/{probe}/{node}/{replica}", requireToken(token, refuseBadPath(plainError, s.handleFlush)))
	}

	s.metricsRoute()
	s.healthRoutes() // GET /healthz, GET /readyz

	if s.data != nil {
		s.mux.HandleFunc("GET /status/history/{service}/{node}", s.handleNodeHistory)
		s.mux.HandleFunc("GET /status/history/{service}/{node}/days", s.handleNodeDays)
		s.mux.HandleFunc("GET /status/incidents", s.handleIncidents)
		s.mux.HandleFunc("GET /status/feed.atom", s.handleFeed)
		s.managerRoutes()
	}
	if s.subs != nil {
		s.subscribeRoutes()
	}

	s.mux.HandleFunc("/", notFound)
}
