package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-go/vigil/internal/status"
)

var (
	pageStatusDesc = prometheus.NewDesc("vigil_page_status",
		"Health of the whole page: 0 healthy, 1 sick, 2 dead.", nil, nil)
	serviceStatusDesc = prometheus.NewDesc("vigil_service_status",
		"Health of a service: 0 healthy, 1 sick, 2 dead.", []string{"service"}, nil)
	nodeStatusDesc = prometheus.NewDesc("vigil_node_status",
		"Health of a node: 0 healthy, 1 sick, 2 dead.", []string{"service", "node", "mode"}, nil)
	replicaStatusDesc = prometheus.NewDesc("vigil_replica_status",
		"Health of a replica: 0 healthy, 1 sick, 2 dead. replica is the id when the node sets reveal_replica_name, else the 1-based position.",
		[]string{"service", "node", "replica"}, nil)
	replicaLatencyDesc = prometheus.NewDesc("vigil_replica_latency_seconds",
		"Latency of a replica's last check, when known.", []string{"service", "node", "replica"}, nil)
	replicasDesc = prometheus.NewDesc("vigil_replicas",
		"Number of replicas of a node in each status.", []string{"service", "node", "status"}, nil)
)

// snapshotCollector turns the current snapshot into gauges at scrape time.
type snapshotCollector struct {
	src Source
}

func newSnapshotCollector(src Source) *snapshotCollector {
	return &snapshotCollector{src: src}
}

// Describe sends the fixed descriptors of every gauge.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pageStatusDesc, serviceStatusDesc, nodeStatusDesc,
		replicaStatusDesc, replicaLatencyDesc, replicasDesc} {
		ch <- d
	}
}

// Collect reads one snapshot and sends its gauges. Before the first
// snapshot only the page status is sent, healthy, as the page shows it.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.src.Snapshot()
	if snap == nil {
		snap = &status.Snapshot{}
	}
	ch <- gauge(pageStatusDesc, float64(snap.Health))
	for si := range snap.Services {
		svc := &snap.Services[si]
		ch <- gauge(serviceStatusDesc, float64(svc.Health), svc.ID)
		for ni := range svc.Nodes {
			node := &svc.Nodes[ni]
			ch <- gauge(nodeStatusDesc, float64(node.Health), svc.ID, node.ID, string(node.Mode))
			var counts [len(healths)]int
			for ri := range node.Replicas {
				rep := &node.Replicas[ri]
				if int(rep.Health) < len(counts) {
					counts[rep.Health]++
				}
				label := ReplicaLabel(node, ri)
				ch <- gauge(replicaStatusDesc, float64(rep.Health), svc.ID, node.ID, label)
				if rep.HasLatency {
					ch <- gauge(replicaLatencyDesc, rep.Latency.Seconds(), svc.ID, node.ID, label)
				}
			}
			for _, h := range healths {
				ch <- gauge(replicasDesc, float64(counts[h]), svc.ID, node.ID, h.String())
			}
		}
	}
}

// gauge builds one sample. A label value that is not valid UTF-8 (a push
// replica id could hold anything) makes the sample invalid rather than
// panicking inside the scrape: the registry reports it and, with
// ContinueOnError, the scrape still returns every other sample.
func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
