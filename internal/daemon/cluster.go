package daemon

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/vigil-go/vigil/internal/cluster"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/status"
)

// ClusterPath is where every member serves the cluster's members and leader.
const ClusterPath = "/status/cluster"

// newCluster joins the cluster that [cluster] describes, with mon as this
// member's monitor.
func newCluster(ctx context.Context, cfg *config.Config, log *slog.Logger, mon *monitor.Monitor, tuning *clusterTuning) (*cluster.Cluster, error) {
	cc := cfg.Cluster
	id := cc.NodeID
	if id == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return nil, fmt.Errorf("cluster.node_id is not set and the host name is unknown: set node_id (%v)", err)
		}
		id = host
	}
	met := cfg.Metrics
	c, err := cluster.New(ctx, cluster.Options{
		URL:           cfg.Storage.URL,
		NodeID:        id,
		Label:         cc.Label,
		Confirmations: cc.Confirmations,
		Heartbeat:     cc.HeartbeatInterval.Duration(),
		MemberTimeout: cc.MemberTimeout.Duration(),
		Fresh:         tuning.fresh,
		Hold:          tuning.hold,
		ReplayWindow:  max(met.PushReplicaExpire.Duration(), time.Minute),
		Local:         mon,
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("cluster: joined", "node_id", id, "label", cmp.Or(cc.Label, id), "confirmations", cc.Confirmations)
	return c, nil
}

// freshness is how long an observation counts in a decision: two of the
// node's probe intervals plus the longest a probe (with its retries) may
// take, so that a member's latest observation is always fresh while it
// keeps probing.
func freshness(cfg *config.Config) func(service, node string, mode status.Mode) time.Duration {
	checks := nodeChecks(cfg)
	return func(service, node string, m status.Mode) time.Duration {
		c := checks[[2]string{service, node}]
		if m == status.Script {
			return 2*c.ScriptInterval + min(cfg.Metrics.ScriptTimeout.Duration(), c.ScriptInterval)
		}
		return 2*c.PollInterval + time.Duration(c.PollRetry+1)*(c.PollDelayDead+c.PollRetryWait)
	}
}

// holds gives each node's thresholds and check interval to the cluster's
// decision.
func holds(cfg *config.Config) func(service, node string) (int, int, time.Duration) {
	type hold struct {
		failures, successes int
		interval            time.Duration
	}
	byNode := map[[2]string]hold{}
	for _, s := range cfg.Probe.Services {
		for _, n := range s.Nodes {
			c := n.Checks(cfg.Metrics)
			h := hold{c.FailureThreshold, c.SuccessThreshold, c.PollInterval}
			if n.Mode == "script" {
				h.interval = c.ScriptInterval
			}
			byNode[[2]string{s.ID, n.ID}] = h
		}
	}
	return func(service, node string) (int, int, time.Duration) {
		h := byNode[[2]string{service, node}]
		return h.failures, h.successes, h.interval
	}
}

// nodeChecks is every node's check settings, by (service, node).
func nodeChecks(cfg *config.Config) map[[2]string]config.Checks {
	out := map[[2]string]config.Checks{}
	for _, s := range cfg.Probe.Services {
		for _, n := range s.Nodes {
			out[[2]string{s.ID, n.ID}] = n.Checks(cfg.Metrics)
		}
	}
	return out
}

// withClusterEndpoint serves ClusterPath (under server.path_prefix) from c
// and everything else from site.
func withClusterEndpoint(site http.Handler, c *cluster.Cluster, prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(prefix+ClusterPath, c)
	mux.Handle("/", site)
	return mux
}
