package web

import (
	"bytes"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/subscribe"
)

// subscriberRoutes registers the manager's subscriber routes (with
// [subscriptions] enabled), guarded like the other manager routes and
// answering errors as {"error": "<reason>"}. Webhook subscribers are added
// here only, never from the page.
func (s *Server) subscriberRoutes(extension func(pattern string, h http.HandlerFunc)) {
	extension("GET /manager/subscribers", s.handleListSubscribers)
	extension("POST /manager/subscriber", s.handleAddSubscriber)
	extension("DELETE /manager/subscriber/{id}", s.handleDeleteSubscriber)
}

// subscriberItem is a subscriber as the manager API shows it: never its
// webhook secret nor its unsubscribe token.
type subscriberItem struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Address     string    `json:"address"`
	Services    []string  `json:"services"`
	Confirmed   bool      `json:"confirmed"`
	Created     time.Time `json:"created"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

func subscriberItemOf(sub store.Subscriber) subscriberItem {
	services := sub.Services
	if services == nil {
		services = []string{}
	}
	return subscriberItem{ID: sub.ID, Kind: sub.Kind, Address: sub.Address, Services: services,
		Confirmed: sub.Confirmed, Created: sub.Created, ConfirmedAt: sub.ConfirmedAt}
}

// handleListSubscribers lists every subscriber as JSON, or exports them
// as CSV with ?format=csv (kind, address, services separated by spaces,
// confirmed, created): a file another tool, or POST /manager/subscriber,
// can import.
func (s *Server) handleListSubscribers(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		jsonError(w, http.StatusBadRequest, "format: want json or csv, got "+strconv.Quote(format))
		return
	}
	subs, err := s.subs.List(r.Context())
	if err != nil {
		s.internalError(w, r, err, jsonError)
		return
	}
	if format != "csv" {
		items := make([]subscriberItem, len(subs))
		for i, sub := range subs {
			items[i] = subscriberItemOf(sub)
		}
		writeJSON(w, http.StatusOK, items)
		return
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write([]string{"id", "kind", "address", "services", "confirmed", "created"})
	for _, sub := range subs {
		_ = cw.Write([]string{sub.ID, sub.Kind, csvSafe(sub.Address), strings.Join(sub.Services, " "),
			strconv.FormatBool(sub.Confirmed), sub.Created.Format(time.RFC3339)})
	}
	cw.Flush()
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="subscribers.csv"`)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// csvSafe keeps a spreadsheet from reading a cell as a formula: an
// address is the visitor's input.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

type addSubscriberBody struct {
	Kind     string   `json:"kind"` // "email" (default) or "webhook"
	Address  string   `json:"address"`
	URL      string   `json:"url"` // a webhook's; "address" is accepted too
	Services []string `json:"services"`
	Secret   string   `json:"secret"`
}

// handleAddSubscriber adds a confirmed subscriber: an address moved from
// another service, or a partner's webhook. 409 when it is subscribed
// already.
func (s *Server) handleAddSubscriber(w http.ResponseWriter, r *http.Request) {
	var b addSubscriberBody
	if !decodeStrictJSON(w, r, &b, false) {
		return
	}
	if b.Kind == "" {
		b.Kind = store.SubscriberEmail
	}
	addr := b.Address
	if b.Kind == store.SubscriberWebhook && b.URL != "" {
		addr = b.URL
	}
	for _, f := range []struct{ name, v string }{{"address", addr}, {"secret", b.Secret}, {"kind", b.Kind}} {
		if err := store.CheckText(f.v); err != nil {
			jsonError(w, http.StatusBadRequest, f.name+": "+err.Error())
			return
		}
	}
	sub, err := s.subs.Add(r.Context(), subscribe.Addition{Kind: b.Kind, Address: addr, Services: b.Services, Secret: b.Secret})
	var bad *subscribe.InputError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, subscriberItemOf(sub))
	case errors.As(err, &bad):
		jsonError(w, http.StatusBadRequest, bad.Reason)
	case errors.Is(err, store.ErrConflict):
		jsonError(w, http.StatusConflict, "subscribed already: "+sub.ID)
	case errors.Is(err, store.ErrInvalid):
		jsonError(w, http.StatusBadRequest, err.Error())
	default:
		s.internalError(w, r, err, jsonError)
	}
}

func (s *Server) handleDeleteSubscriber(w http.ResponseWriter, r *http.Request) {
	err := s.subs.Delete(r.Context(), r.PathValue("id"))
	switch {
	case err == nil:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, store.ErrNotFound):
		jsonError(w, http.StatusNotFound, "not found")
	default:
		s.internalError(w, r, err, jsonError)
	}
}
