package subscribe

import "github.com/vigil-go/vigil/internal/config"

// labels names services and nodes as the page does.
type labels struct {
	choices  []Choice
	services map[string]string            // id → label
	nodes    map[string]map[string]string // service id → node id → label
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
