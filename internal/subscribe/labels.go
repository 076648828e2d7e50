package subscribe

import (
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/config"
)

// labels names services and nodes as the page does.
type labels struct {
	choices  []Choice
	services map[string]string            // id → label
	nodes    map[string]map[string]string // service id → node id → label
}

// look is what subscribers' messages and the form take from the running
// config: the page's title, address and time zone, and the labels of
// services and nodes. A reload replaces it whole (Service.Apply); the
// [subscriptions] section itself needs a restart.
type look struct {
	title   string
	pageURL string // [branding] page_url, ending with "/"
	loc     *time.Location
	labels  labels
}

func newLook(cfg *config.Config) *look {
	l := &look{title: cfg.Branding.PageTitle, pageURL: cfg.Branding.PageURL, loc: cfg.Branding.Location, labels: newLabels(cfg)}
	if !strings.HasSuffix(l.pageURL, "/") {
		l.pageURL += "/"
	}
	if l.loc == nil {
		l.loc = time.UTC
	}
	return l
}

func newLabels(cfg *config.Config) labels {
	l := labels{services: map[string]string{}, nodes: map[string]map[string]string{}}
	for _, svc := range cfg.Probe.Services {
		l.choices = append(l.choices, Choice{ID: svc.ID, Label: svc.Label})
		l.services[svc.ID] = svc.Label
		l.nodes[svc.ID] = map[string]string{}
		for _, n := range svc.Nodes {
			l.nodes[svc.ID][n.ID] = n.Label
		}
	}
	return l
}

// service is a service's label, or its id once it left the config.
func (l labels) service(id string) string {
	if label, ok := l.services[id]; ok {
		return label
	}
	return id
}

// node is "Service: Node" with their labels.
func (l labels) node(service, node string) string {
	label, ok := l.nodes[service][node]
	if !ok {
		label = node
	}
	return l.service(service) + ": " + label
}
