package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// Alerting is the part of the alerting engine the manager API drives.
type Alerting interface {
	// IgnoreReminders mutes reminders until the given time; the zero time clears it.
	IgnoreReminders(ctx context.Context, until time.Time) error
	// RemindersIgnoredUntil returns when muting ends; zero when not muted.
	RemindersIgnoredUntil() time.Time
}

// memoryAlerting keeps the reminder muting in memory, as Vigil does, when
// no alerting engine is given.
type memoryAlerting struct {
	now   func() time.Time
	mu    sync.Mutex
	until time.Time
}

func (m *memoryAlerting) IgnoreReminders(_ context.Context, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.until = until
	return nil
}

func (m *memoryAlerting) RemindersIgnoredUntil() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.until
}

// managerRoutes registers the manager API: Vigil's routes (announcements,
// prober alerts, reminder muting) and the extensions (announcement edits,
// maintenance windows, incidents). Vigil's routes answer errors in plain
// text, as Vigil does; the extensions answer {"error": "<reason>"}.
func (s *Server) managerRoutes() {
	guard := func(h http.HandlerFunc, fail errorWriter) http.HandlerFunc {
		return requireToken(s.cfg.Server.ManagerToken, refuseBadPath(fail, h))
	}
	vigil := func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, guard(h, plainError)) }
	extension := func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, guard(h, jsonError)) }

	vigil("GET /manager/announcements", s.handleListAnnouncements)
	vigil("POST /manager/announcement", s.handleInsertAnnouncement)
	vigil("DELETE /manager/announcement/{id}", s.handleRetractAnnouncement)
	vigil("GET /manager/prober/alerts", s.handleProberAlerts)
	vigil("GET /manager/prober/alerts/ignored", s.handleGetIgnored)
	vigil("PUT /manager/prober/alerts/ignored", s.handlePutIgnored)

	extension("PUT /manager/announcement/{id}", s.handleEditAnnouncement)
	extension("GET /manager/maintenances", s.handleListMaintenance)
	extension("POST /manager/maintenance", s.handleCreateMaintenance)
	extension("PUT /manager/maintenance/{id}", s.handleUpdateMaintenance)
	extension("DELETE /manager/maintenance/{id}", s.handleDeleteMaintenance)
	extension("GET /manager/incidents", s.handleListIncidents)
	extension("POST /manager/incident", s.handleOpenIncident)
	extension("POST /manager/incident/{id}/updates", s.handleIncidentUpdate)
	extension("POST /manager/incident/{id}/resolve", s.handleResolveIncident)
	if s.subs != nil {
		s.subscriberRoutes(extension)
	}
}

// writeJSON answers v as compact JSON without a trailing newline, with
// "<", ">" and "&" left as they are (as Vigil's serializer writes them).
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := encodeJSON(v)
	if err != nil {
		plainError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// encodeJSON encodes v as every JSON answer is: like Vigil's serializer,
// "<" and "&" stay as they are, and no newline ends it.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// apiError is the body of an extension route's error.
type apiError struct {
	Error string `json:"error"`
}

// errorWriter answers an error with its reason in a route's format:
// plainError on Vigil's routes, jsonError on the extensions.
type errorWriter func(w http.ResponseWriter, code int, reason string)

func jsonError(w http.ResponseWriter, code int, reason string) {
	writeJSON(w, code, apiError{Error: reason})
}

// storeError answers an error of the store on an extension route.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		jsonError(w, http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrInvalid):
		jsonError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrConflict):
		// Resolving a resolved incident is the only conflict.
		jsonError(w, http.StatusConflict, "already resolved")
	default:
		s.internalError(w, r, err, jsonError)
	}
}

// internalError answers a failure that is not the client's, such as a
// database error, with a 500 in the route's error format (fail). The error
// is logged; the answer never carries it: a database's message can hold
// the schema, and says nothing a client can act on.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error, fail errorWriter) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, "internal error; the server log has the cause")
}

// decodeJSON reads a JSON body into v. On failure it has answered (in plain
// text on Vigil's routes, in JSON otherwise) and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, plain bool) bool {
	return decodeBody(w, r, v, plain, false)
}

// decodeStrictJSON is decodeJSON refusing keys v has no field for, on
// routes where a misspelt key would silently mean something else.
func decodeStrictJSON(w http.ResponseWriter, r *http.Request, v any, plain bool) bool {
	return decodeBody(w, r, v, plain, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, plain, strict bool) bool {
	fail := jsonError
	if plain {
		fail = plainError
	}
	rec := &bodyRecorder{ResponseWriter: w}
	body, ok := readJSON(rec, r)
	if !ok {
		fail(w, rec.code, strings.TrimSpace(rec.body.String()))
		return false
	}
	err := json.Unmarshal(body, v)
	if err == nil && strict {
		// Unmarshal has checked the syntax; decode again, refusing unknown keys.
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			fail(w, http.StatusBadRequest, "unknown key "+field)
			return false
		}
		fail(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return false
	}
	return true
}

// bodyRecorder captures the error readJSON answers, so that decodeJSON can
// answer it in the route's own error format.
type bodyRecorder struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (b *bodyRecorder) Header() http.Header { return http.Header{} }
func (b *bodyRecorder) WriteHeader(code int) {
	b.code = code
}
func (b *bodyRecorder) Write(p []byte) (int, error) { return b.body.Write(p) }

// ---- Vigil's routes ----

type announcementItem struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// handleListAnnouncements answers GET /manager/announcements/: ids and
// titles in insertion order, from memory.
func (s *Server) handleListAnnouncements(w http.ResponseWriter, _ *http.Request) {
	list := s.data.announcements().list
	items := make([]announcementItem, 0, len(list))
	for _, a := range list {
		items = append(items, announcementItem{ID: a.ID, Title: a.Title})
	}
	writeJSON(w, http.StatusOK, items)
}

type announcementBody struct {
	Title *string `json:"title"`
	Text  *string `json:"text"`
}

func (b announcementBody) check() string {
	switch {
	case b.Title == nil || b.Text == nil:
		return "title and text are required strings"
	case *b.Title == "" || *b.Text == "":
		return "title and text must not be empty"
	}
	return ""
}

// handleInsertAnnouncement answers POST /manager/announcement/.
func (s *Server) handleInsertAnnouncement(w http.ResponseWriter, r *http.Request) {
	var b announcementBody
	if !decodeJSON(w, r, &b, true) {
		return
	}
	if reason := b.check(); reason != "" {
		plainError(w, http.StatusBadRequest, reason)
		return
	}
	a, err := s.store.AddAnnouncement(r.Context(), *b.Title, *b.Text, s.now())
	if err != nil {
		s.internalError(w, r, err, plainError)
		return
	}
	s.reloadAnnouncements(r.Context())
	writeJSON(w, http.StatusOK, struct {
		ID string `json:"id"`
	}{a.ID})
}

// handleRetractAnnouncement answers DELETE /manager/announcement/{id}/.
func (s *Server) handleRetractAnnouncement(w http.ResponseWriter, r *http.Request) {
	err := s.store.DeleteAnnouncement(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(w, r)
		return
	case err != nil:
		s.internalError(w, r, err, plainError)
		return
	}
	s.reloadAnnouncements(r.Context())
	w.WriteHeader(http.StatusOK)
}

type alertReplica struct {
	Probe   string `json:"probe"`
	Node    string `json:"node"`
	Replica string `json:"replica"`
}

// handleProberAlerts answers GET /manager/prober/alerts/: the dead and sick
// replicas of the current state, in configuration order.
func (s *Server) handleProberAlerts(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Dead []alertReplica `json:"dead"`
		Sick []alertReplica `json:"sick"`
	}{Dead: []alertReplica{}, Sick: []alertReplica{}}
	for _, svc := range s.snapshot().Services {
		for _, node := range svc.Nodes {
			for _, rep := range node.Replicas {
				a := alertReplica{Probe: svc.ID, Node: node.ID, Replica: status.Redacted(rep.ID)}
				switch rep.Health {
				case status.Dead:
					out.Dead = append(out.Dead, a)
				case status.Sick:
					out.Sick = append(out.Sick, a)
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type ignoredBody struct {
	RemindersSeconds *uint64 `json:"reminders_seconds"`
}

// handleGetIgnored answers GET /manager/prober/alerts/ignored/ with the
// whole seconds left before reminders resume, or null.
func (s *Server) handleGetIgnored(w http.ResponseWriter, _ *http.Request) {
	var b ignoredBody
	if until := s.alerting.RemindersIgnoredUntil(); !until.IsZero() && until.After(s.now()) {
		left := until.Sub(s.now())
		secs := uint64(left / time.Second)
		b.RemindersSeconds = &secs
	}
	writeJSON(w, http.StatusOK, b)
}

// handlePutIgnored answers PUT /manager/prober/alerts/ignored/: mute
// reminders for 0 to 65535 seconds, or clear the muting with null. An
// unknown key is refused: {"reminder_seconds": 3600} would otherwise read
// as null and turn the muting off, answering 200.
func (s *Server) handlePutIgnored(w http.ResponseWriter, r *http.Request) {
	var b struct {
		RemindersSeconds *uint16 `json:"reminders_seconds"`
	}
	if !decodeStrictJSON(w, r, &b, true) {
		return
	}
	var until time.Time
	if b.RemindersSeconds != nil {
		until = s.now().Add(time.Duration(*b.RemindersSeconds) * time.Second)
	}
	if err := s.alerting.IgnoreReminders(r.Context(), until); err != nil {
		s.internalError(w, r, err, plainError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// ---- Announcement edits ----

type announcementJSON struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Text      string     `json:"text"`
	Published time.Time  `json:"published"`
	Updated   *time.Time `json:"updated"`
}

func announcementJSONOf(a store.Announcement) announcementJSON {
	v := announcementJSON{ID: a.ID, Title: a.Title, Text: a.Text, Published: a.Time}
	if !a.Updated.IsZero() {
		v.Updated = &a.Updated
	}
	return v
}

// handleEditAnnouncement answers PUT /manager/announcement/{id}/: replace
// the title and text; the publication date stays.
func (s *Server) handleEditAnnouncement(w http.ResponseWriter, r *http.Request) {
	var b announcementBody
	if !decodeJSON(w, r, &b, false) {
		return
	}
	if reason := b.check(); reason != "" {
		jsonError(w, http.StatusBadRequest, reason)
		return
	}
	id := r.PathValue("id")
	if err := s.store.UpdateAnnouncement(r.Context(), id, *b.Title, *b.Text, s.now()); err != nil {
		s.storeError(w, r, err)
		return
	}
	s.reloadAnnouncements(r.Context())
	for _, a := range s.data.announcements().list {
		if a.ID == id {
			writeJSON(w, http.StatusOK, announcementJSONOf(a))
			return
		}
	}
	jsonError(w, http.StatusNotFound, "not found")
}

// ---- Maintenance windows ----

type windowJSON struct {
	ID      int64     `json:"id"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Targets []string  `json:"targets"`
	Message string    `json:"message"`
}

func windowJSONOf(w store.Window) windowJSON {
	v := windowJSON{ID: w.ID, Start: w.Start, End: w.End, Targets: w.Targets, Message: w.Message}
	if v.Targets == nil {
		v.Targets = []string{}
	}
	return v
}

// windowBody is a window as the API receives it. Start defaults to now.
type windowBody struct {
	Start   *time.Time `json:"start"`
	End     *time.Time `json:"end"`
	Targets []string   `json:"targets"`
	Message string     `json:"message"`
}

// window checks b against the configured services and nodes.
func (s *Server) window(b windowBody) (store.Window, string) {
	if b.End == nil {
		return store.Window{}, "end is required (RFC 3339)"
	}
	start := s.now()
	if b.Start != nil {
		start = *b.Start
	}
	if !b.End.After(start) {
		return store.Window{}, "end must be after start"
	}
	for _, t := range b.Targets {
		if reason := s.checkTarget(t, true); reason != "" {
			return store.Window{}, reason
		}
	}
	return store.Window{Start: start, End: *b.End, Targets: b.Targets, Message: b.Message}, ""
}

// checkTarget checks a "service:node" (or, when serviceOK, a "service")
// against the current services.
func (s *Server) checkTarget(target string, serviceOK bool) string {
	svcID, nodeID, hasNode := strings.Cut(target, ":")
	if !hasNode && !serviceOK {
		return fmt.Sprintf("node %q: want \"service:node\"", target)
	}
	for _, svc := range s.snapshot().Services {
		if svc.ID != svcID {
			continue
		}
		if !hasNode {
			return ""
		}
		for _, n := range svc.Nodes {
			if n.ID == nodeID {
				return ""
			}
		}
		return fmt.Sprintf("unknown node %q", target)
	}
	return fmt.Sprintf("unknown service %q", svcID)
}

// handleListMaintenance answers GET /manager/maintenances/: every stored
// window, by start.
func (s *Server) handleListMaintenance(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.Maintenance(r.Context(), time.Time{}, time.Time{})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := make([]windowJSON, 0, len(list))
	for _, win := range list {
		out = append(out, windowJSONOf(win))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCreateMaintenance answers POST /manager/maintenance/.
func (s *Server) handleCreateMaintenance(w http.ResponseWriter, r *http.Request) {
	var b windowBody
	if !decodeJSON(w, r, &b, false) {
		return
	}
	win, reason := s.window(b)
	if reason != "" {
		jsonError(w, http.StatusBadRequest, reason)
		return
	}
	win, err := s.store.AddMaintenance(r.Context(), win)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.reloadHistory(r.Context())
	writeJSON(w, http.StatusOK, windowJSONOf(win))
}

// pathID reads the numeric {id} of the path; on failure it has answered 404.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		jsonError(w, http.StatusNotFound, "not found")
		return 0, false
	}
	return id, true
}

// handleUpdateMaintenance answers PUT /manager/maintenance/{id}/: replace
// the window.
func (s *Server) handleUpdateMaintenance(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var b windowBody
	if !decodeJSON(w, r, &b, false) {
		return
	}
	win, reason := s.window(b)
	if reason != "" {
		jsonError(w, http.StatusBadRequest, reason)
		return
	}
	win.ID = id
	if err := s.store.UpdateMaintenance(r.Context(), win); err != nil {
		s.storeError(w, r, err)
		return
	}
	s.reloadHistory(r.Context())
	// Read back what was stored (times truncated to the millisecond).
	list, err := s.store.Maintenance(r.Context(), time.Time{}, time.Time{})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	for _, stored := range list {
		if stored.ID == id {
			writeJSON(w, http.StatusOK, windowJSONOf(stored))
			return
		}
	}
	jsonError(w, http.StatusNotFound, "not found")
}

// handleDeleteMaintenance answers DELETE /manager/maintenance/{id}/.
func (s *Server) handleDeleteMaintenance(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.store.DeleteMaintenance(r.Context(), id); err != nil {
		s.storeError(w, r, err)
		return
	}
	s.reloadHistory(r.Context())
	w.WriteHeader(http.StatusOK)
}

// ---- Incidents ----

type incidentJSON struct {
	ID       int64        `json:"id"`
	Title    string       `json:"title"`
	Auto     bool         `json:"auto"`
	Nodes    []string     `json:"nodes"`
	Opened   time.Time    `json:"opened"`
	Resolved *time.Time   `json:"resolved"`
	Updates  []updateJSON `json:"updates"`
}

type updateJSON struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Status string    `json:"status"`
	Text   string    `json:"text"`
}

func incidentJSONOf(in store.Incident) incidentJSON {
	v := incidentJSON{ID: in.ID, Title: in.Title, Auto: in.Auto, Nodes: in.Nodes, Opened: in.Opened,
		Updates: make([]updateJSON, 0, len(in.Updates))}
	if v.Nodes == nil {
		v.Nodes = []string{}
	}
	if !in.IsOpen() {
		v.Resolved = &in.Resolved
	}
	for _, u := range in.Updates {
		v.Updates = append(v.Updates, updateJSONOf(u))
	}
	return v
}

func updateJSONOf(u store.IncidentUpdate) updateJSON {
	return updateJSON{ID: u.ID, Time: u.Time, Status: u.Status, Text: u.Text}
}

func incidentsJSON(list []store.Incident) []incidentJSON {
	out := make([]incidentJSON, 0, len(list))
	for _, in := range list {
		out = append(out, incidentJSONOf(in))
	}
	return out
}

// handleListIncidents answers GET /manager/incidents/: every incident, most
// recently opened first; ?open=true lists the open ones only.
func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request) {
	var f store.IncidentFilter
	switch r.URL.Query().Get("open") {
	case "", "false":
	case "true":
		f.OpenOnly = true
	default:
		jsonError(w, http.StatusBadRequest, "open: want true or false")
		return
	}
	list, err := s.store.Incidents(r.Context(), f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentsJSON(list))
}

// handleOpenIncident answers POST /manager/incident/: an operator opens an
// incident, with a first update when text is given.
func (s *Server) handleOpenIncident(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Title  *string    `json:"title"`
		Nodes  []string   `json:"nodes"`
		Opened *time.Time `json:"opened"`
		Status string     `json:"status"`
		Text   string     `json:"text"`
	}
	if !decodeJSON(w, r, &b, false) {
		return
	}
	if b.Title == nil || strings.TrimSpace(*b.Title) == "" {
		jsonError(w, http.StatusBadRequest, "title is required")
		return
	}
	for _, n := range b.Nodes {
		if reason := s.checkTarget(n, false); reason != "" {
			jsonError(w, http.StatusBadRequest, reason)
			return
		}
	}
	now := s.now()
	in := store.Incident{Title: *b.Title, Nodes: b.Nodes, Opened: now}
	if b.Opened != nil {
		if b.Opened.After(now) {
			jsonError(w, http.StatusBadRequest, "opened must not be in the future")
			return
		}
		in.Opened = *b.Opened
	}
	if reason := checkUpdateStatus(b.Status); reason != "" {
		jsonError(w, http.StatusBadRequest, reason)
		return
	}
	if b.Text != "" {
		st := b.Status
		if st == "" {
			st = "investigating"
		}
		in.Updates = []store.IncidentUpdate{{Time: now, Status: st, Text: b.Text}}
	}
	in, err := s.store.OpenIncident(r.Context(), in)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.reloadIncidents(r.Context())
	writeJSON(w, http.StatusOK, incidentJSONOf(in))
}

// updateStatuses are the statuses an operator's incident update may have.
// "resolved" is the resolve route's, which also closes the incident.
var updateStatuses = []string{"investigating", "identified", "monitoring"}

// checkUpdateStatus returns why st cannot be an update's status, or "".
// Empty is an update that does not change the status.
func checkUpdateStatus(st string) string {
	switch {
	case st == "" || slices.Contains(updateStatuses, st):
		return ""
	case st == "resolved":
		return `status "resolved": resolve the incident with POST /manager/incident/<id>/resolve/`
	}
	return fmt.Sprintf("unknown status %q (want %s)", st, strings.Join(updateStatuses, ", "))
}

// handleIncidentUpdate answers POST /manager/incident/{id}/updates/.
func (s *Server) handleIncidentUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var b struct {
		Status string  `json:"status"`
		Text   *string `json:"text"`
	}
	if !decodeJSON(w, r, &b, false) {
		return
	}
	if b.Text == nil || strings.TrimSpace(*b.Text) == "" {
		jsonError(w, http.StatusBadRequest, "text is required")
		return
	}
	if reason := checkUpdateStatus(b.Status); reason != "" {
		jsonError(w, http.StatusBadRequest, reason)
		return
	}
	u, err := s.store.AddIncidentUpdate(r.Context(), id, store.IncidentUpdate{Time: s.now(), Status: b.Status, Text: *b.Text})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.reloadIncidents(r.Context())
	writeJSON(w, http.StatusOK, updateJSONOf(u))
}

// handleResolveIncident answers POST /manager/incident/{id}/resolve/: the
// body is optional; {"text": "…"} adds a closing update.
func (s *Server) handleResolveIncident(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var b struct {
		Text string `json:"text"`
	}
	if r.ContentLength != 0 && !decodeJSON(w, r, &b, false) {
		return
	}
	now := s.now()
	if err := s.store.ResolveIncident(r.Context(), id, now); err != nil {
		s.storeError(w, r, err)
		return
	}
	if b.Text != "" {
		if _, err := s.store.AddIncidentUpdate(r.Context(), id, store.IncidentUpdate{Time: now, Status: "resolved", Text: b.Text}); err != nil {
			s.storeError(w, r, err)
			return
		}
	}
	s.reloadIncidents(r.Context())
	in, err := s.store.Incident(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentJSONOf(in))
}

// reloadAnnouncements, reloadHistory and reloadIncidents refresh what the
// page shows after a write. The write is stored either way; a failed reload
// is logged and the next refresh catches up.
func (s *Server) reloadAnnouncements(ctx context.Context) {
	if err := s.data.reloadAnnouncements(context.WithoutCancel(ctx)); err != nil {
		s.log.Error("reload announcements", "err", err)
	}
}

func (s *Server) reloadHistory(ctx context.Context) {
	if err := s.data.reloadHistory(context.WithoutCancel(ctx)); err != nil {
		s.log.Error("reload history", "err", err)
	}
}

func (s *Server) reloadIncidents(ctx context.Context) {
	if err := s.data.reloadIncidents(context.WithoutCancel(ctx)); err != nil {
		s.log.Error("reload incidents", "err", err)
	}
}
