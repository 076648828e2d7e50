package web

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/statuspage"
	"github.com/vigil-go/vigil/internal/store"
)

// The Statuspage-shaped public API (/api/v2/…) is served like
// /status/report: the documents are built from the snapshot and the history
// already in memory when either changes, encoded once per document and
// served as bytes. No request reads the store.

// statuspageKey is what the documents depend on.
type statuspageKey struct {
	snap *status.Snapshot
	hist *history // nil without a store
	// passed counts the window starts and ends passed at now. For one
	// history it grows with time, so an equal count means every window is
	// in the same phase (upcoming, in progress, completed).
	passed int
	now    time.Time // not compared: the documents change with passed
}

func sameStatuspage(a, b statuspageKey) bool {
	return a.snap.Version == b.snap.Version && a.hist == b.hist && a.passed == b.passed
}

// statuspageDocs keeps the built documents of the latest key and each
// document's rendition.
type statuspageDocs struct {
	started time.Time // the created_at of nodes without history, when there is no store
	mu      sync.Mutex
	key     statuspageKey
	set     *statuspage.Set
	docs    map[statuspage.Document]*memo[statuspageKey]
}

// statuspageRoutes registers one route per document under /api/v2/.
func (s *Server) statuspageRoutes() {
	s.statuspage.started = s.now()
	s.statuspage.docs = make(map[statuspage.Document]*memo[statuspageKey], len(statuspage.Documents))
	for _, d := range statuspage.Documents {
		s.statuspage.docs[d] = newMemo[statuspageKey](s.bound)
		s.mux.HandleFunc("GET /api/v2/"+string(d), s.handleStatuspage(d))
	}
}

// handleStatuspage serves document d. Any origin may read it, as
// Statuspage's own API allows: dashboards and widgets on other sites fetch
// it from the browser, and it holds nothing the page does not show.
func (s *Server) handleStatuspage(d statuspage.Document) http.HandlerFunc {
	m := s.statuspage.docs[d]
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		m.get(s.statuspageKey, sameStatuspage, func(k statuspageKey) *rendition {
			body, err := encodeJSON(s.statuspageSet(k).Body(d))
			if err != nil {
				s.log.Error("render statuspage document", "document", string(d), "err", err)
				return &rendition{err: fmt.Errorf("render %s: %w", d, err)}
			}
			return newRendition("application/json", body)
		}).serve(w, r, s.bound)
	}
}

func (s *Server) statuspageKey() statuspageKey {
	now := s.now()
	k := statuspageKey{snap: s.snapshot(), now: now}
	if s.data != nil {
		k.hist = s.data.history()
		for _, w := range k.hist.windows {
			if !now.Before(w.Start) {
				k.passed++
			}
			if !now.Before(w.End) {
				k.passed++
			}
		}
	}
	return k
}

// statuspageSet returns the documents of k, built once for all of them.
func (s *Server) statuspageSet(k statuspageKey) *statuspage.Set {
	c := &s.statuspage
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != nil && sameStatuspage(c.key, k) {
		return c.set
	}
	b := s.cfg.Branding
	in := statuspage.Input{
		Name: b.PageTitle, URL: serialiseURL(b.PageURL), Location: b.Location,
		Snapshot: k.snap, Now: k.now, Started: c.started,
	}
	if h := k.hist; h != nil {
		in.Incidents, in.Windows, in.Started = h.incidents, h.windows, s.data.started
		in.Created = func(service, node string) time.Time {
			if nh := h.nodes[nodeKey{service, node}]; nh != nil {
				for _, d := range nh.days.All() {
					if d.HasData() {
						return d.Start
					}
				}
			}
			return time.Time{}
		}
	}
	c.key, c.set = k, statuspage.Build(in)
	return c.set
}

// publicIncidentText hides, in the updates of automatic incidents, what
// names the replicas of their nodes: vigil writes the probe's reason there,
// which names the target, as publicReason does for the page. A node that
// reveals its replica names keeps the text whole; an operator's incident is
// the operator's own words.
func publicIncidentText(snap *status.Snapshot) func(store.Incident, string) string {
	return func(in store.Incident, text string) string {
		if !in.Auto {
			return text
		}
		for _, target := range in.Nodes {
			svc, nodeID, _ := strings.Cut(target, ":")
			_, node := snap.Find(svc, nodeID)
			if node != nil && node.RevealReplicaName {
				continue
			}
			if node != nil {
				for _, rep := range node.Replicas {
					for _, n := range hiddenNames(rep.ID) {
						text = replaceName(text, n, "(hidden)")
					}
				}
			}
			// A node no longer configured may have had private names too.
			text = anyURL.ReplaceAllString(text, "(hidden)")
		}
		return text
	}
}
