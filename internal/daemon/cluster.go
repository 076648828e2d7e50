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
func newCluster(ctx context.Context, cfg *config.Config, log *slog.Logger, mon *monitor.Monitor) (*cluster.Cluster, error) {
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
		Fresh:         freshness(cfg),
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

// freshness is how long an observation counts in a decision: two probe
// intervals plus the longest a probe (with its retries) may take, so that a
// member's latest observation is always fresh while it keeps probing.
func freshness(cfg *config.Config) func(status.Mode) time.Duration {
	met := cfg.Metrics
	poll := 2*met.PollInterval.Duration() +
		time.Duration(met.PollRetry+1)*(met.PollDelayDead.Duration()+met.PollRetryWait.Duration())
	script := 2*met.ScriptInterval.Duration() + met.ScriptTimeout.Duration()
	return func(m status.Mode) time.Duration {
		if m == status.Script {
			return script
		}
		return poll
	}
}

// withClusterEndpoint serves ClusterPath (under server.path_prefix) from c
// and everything else from site.
func withClusterEndpoint(site http.Handler, c *cluster.Cluster, prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(prefix+ClusterPath, c)
	mux.Handle("/", site)
	return mux
}
