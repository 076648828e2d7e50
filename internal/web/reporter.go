package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// maxBody bounds JSON request bodies, as Vigil does (2 MiB).
const maxBody = 2 << 20

// Reporter receives the reports of push and local replicas.
type Reporter interface {
	Report(serviceID, nodeID string, r status.Report) error
	Flush(serviceID, nodeID, replicaID string) error
}

// handleReport answers POST /reporter/{probe}/{node}: a Vigil Reporter
// library (load) or Vigil Local (health) reporting one replica.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSON(w, r)
	if !ok {
		return
	}
	rep, err := parseReport(body)
	if err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	err = s.reporter.Report(r.PathValue("probe"), r.PathValue("node"), rep)
	s.writeReportError(w, r, err)
}

// handleFlush answers DELETE /reporter/{probe}/{node}/{replica}.
func (s *Server) handleFlush(w http.ResponseWriter, r *http.Request) {
	err := s.reporter.Flush(r.PathValue("probe"), r.PathValue("node"), r.PathValue("replica"))
	s.writeReportError(w, r, err)
}

func (s *Server) writeReportError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, status.ErrUnknownNode), errors.Is(err, status.ErrUnknownReplica):
		plainError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, status.ErrWrongMode):
		plainError(w, http.StatusPreconditionFailed, err.Error())
	case errors.Is(err, status.ErrBadReport):
		plainError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, status.ErrTooManyReplicas):
		plainError(w, http.StatusTooManyRequests, err.Error())
	default:
		s.internalError(w, r, err, plainError)
	}
}

// readJSON checks the content type and reads the body, at most maxBody
// bytes, refusing text no id, label or text may hold (checkJSONText). On
// failure it has answered and returns false.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json")) {
		plainError(w, http.StatusBadRequest, "content type must be application/json")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		plainError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
		return nil, false
	case err != nil:
		plainError(w, http.StatusBadRequest, "read body: "+err.Error())
		return nil, false
	}
	if err := checkJSONText(body); err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return body, true
}

// reportBody is the JSON of a report. Pointers tell absent from zero.
type reportBody struct {
	Replica  *string         `json:"replica"`
	Interval json.RawMessage `json:"interval"`
	Load     *struct {
		CPU *float64 `json:"cpu"`
		RAM *float64 `json:"ram"`
	} `json:"load"`
	Health *string `json:"health"`
}

// parseReport decodes and checks a report body, with a reason a client
// author can act on.
func parseReport(body []byte) (status.Report, error) {
	var b reportBody
	if err := json.Unmarshal(body, &b); err != nil {
		return status.Report{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if b.Replica == nil {
		return status.Report{}, errors.New("replica: required string")
	}
	interval, err := parseInterval(b.Interval)
	if err != nil {
		return status.Report{}, err
	}
	rep := status.Report{Replica: *b.Replica, Interval: interval}
	switch {
	case b.Load != nil:
		if b.Load.CPU == nil || b.Load.RAM == nil {
			return status.Report{}, errors.New("load: cpu and ram are required numbers")
		}
		rep.Load = &status.Load{CPU: *b.Load.CPU, RAM: *b.Load.RAM}
	case b.Health != nil:
		h, err := status.ParseHealth(*b.Health)
		if err != nil {
			return status.Report{}, fmt.Errorf("health: %v", err)
		}
		rep.Health = &h
	}
	return rep, nil
}

// parseInterval reads the reporting interval in seconds: a non-negative
// whole number. An integral float such as 5.0 is accepted too, because
// py-vigil-reporter sends one (Vigil refused it, which stopped the client
// for good).
func parseInterval(raw json.RawMessage) (time.Duration, error) {
	const want = "interval: required whole number of seconds"
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, errors.New(want)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("%s, got %s", want, raw)
	}
	if f < 0 {
		return 0, fmt.Errorf("interval: must not be negative, got %s", raw)
	}
	max := status.MaxReportInterval.Seconds()
	if f > max {
		return 0, fmt.Errorf("interval: at most %.0f seconds (%s), got %s", max, status.MaxReportInterval, raw)
	}
	return time.Duration(f) * time.Second, nil
}
