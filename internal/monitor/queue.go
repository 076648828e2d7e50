package monitor

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/probe"
)

// queueState is the last RabbitMQ check of a push node's queue. Checks run
// at most once per reporting interval per node, whatever the number of
// replicas reporting (Vigil checked once per report per replica).
type queueState struct {
	probe.QueueResult
	started  time.Time // last check start
	inflight bool
}

// queueChecker holds what a node needs to check its queue.
type queueChecker struct {
	client     *probe.RabbitMQ
	queue      string
	thresholds probe.QueueThresholds
}

// newQueueChecker returns the checker of a push node's queue, or nil when
// the node has no queue or the plugin is not configured.
func newQueueChecker(cfg *config.Config, node config.Node) *queueChecker {
	plugin := cfg.Plugins.RabbitMQ
	if plugin == nil || node.RabbitMQQueue == "" || node.Mode != "push" {
		return nil
	}
	api, err := url.Parse(plugin.APIURL)
	if err != nil {
		return nil // validated by the config loader
	}
	th := probe.QueueThresholds{
		ReadyHealthyBelow: uint64(plugin.QueueReadyHealthyBelow),
		NackHealthyBelow:  uint64(plugin.QueueNackHealthyBelow),
		ReadyDeadAbove:    uint64(plugin.QueueReadyDeadAbove),
		NackDeadAbove:     uint64(plugin.QueueNackDeadAbove),
	}
	if v := node.RabbitMQQueueNackHealthyBelow; v != nil {
		th.NackHealthyBelow = uint64(*v)
	}
	if v := node.RabbitMQQueueNackDeadAbove; v != nil {
		th.NackDeadAbove = uint64(*v)
	}
	var retry time.Duration
	if plugin.QueueLoadedRetryDelay != nil {
		retry = plugin.QueueLoadedRetryDelay.Duration()
	}
	return &queueChecker{
		client: &probe.RabbitMQ{
			APIURL:      api,
			Username:    plugin.AuthUsername,
			Password:    plugin.AuthPassword,
			VirtualHost: plugin.VirtualHost,
			Timeout:     cfg.Metrics.PollDelayDead.Duration(),
			RetryDelay:  retry,
			UserAgent:   probe.UserAgent(cfg.Branding.PageURL),
		},
		queue:      node.RabbitMQQueue,
		thresholds: th,
	}
}

// queueRequest is one check to run: the checker and where its result goes,
// taken together under m.mu so that a reload meanwhile cannot mix nodes.
type queueRequest struct {
	checker *queueChecker
	state   *queueState
}

// queueDue reports whether a report at now should start a check of the
// node's queue, and if so marks one as started and sets req. m.mu must be
// held.
func (m *Monitor) queueDue(ref nodeRef, now time.Time, interval time.Duration, req *queueRequest) bool {
	c := m.queueCheckers[ref]
	if c == nil {
		return false
	}
	q := m.queues[ref]
	if q == nil {
		q = &queueState{}
		m.queues[ref] = q
	}
	if q.inflight || (!q.started.IsZero() && now.Sub(q.started) < interval) {
		return false
	}
	q.inflight, q.started = true, now
	*req = queueRequest{checker: c, state: q}
	return true
}

// requestQueueCheck hands a check to the queue loop. It never blocks: at
// most one check per node is pending, and the channel holds one per node.
func (m *Monitor) requestQueueCheck(req queueRequest) {
	select {
	case m.queueRequests <- req:
	default:
		m.mu.Lock()
		req.state.inflight = false
		m.mu.Unlock()
	}
}

// checkQueues runs the requested queue checks until ctx ends.
func (m *Monitor) checkQueues(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-m.queueRequests:
			c, q := req.checker, req.state
			wg.Go(func() {
				res := c.client.Check(ctx, c.queue, c.thresholds)
				m.mu.Lock()
				q.QueueResult, q.inflight = res, false
				m.mu.Unlock()
				if !res.OK {
					m.log.Warn("rabbitmq queue check failed", "queue", c.queue, "reason", res.Reason)
				}
				m.markDirty()
			})
		}
	}
}
