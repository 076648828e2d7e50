package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Each member records in cluster_members.lock_pid the backend of its lock
// connection (pg_backend_pid), before it first tries for the lock on it.
// Every holder of the lock has therefore recorded its backend, and a
// candidate can tell whose backend holds the lock: it ends it only when
// that member's heartbeat is stale (see lease.go), never a live leader's.

// heldBy selects the backends holding the leader lock in this database,
// with the member that recorded each and that member's heartbeat age.
const heldBy = `
	SELECT l.pid, m.node_id, ` + nowMS + ` - m.heartbeat_ms
	FROM pg_locks l JOIN cluster_members m ON m.lock_pid = l.pid
	WHERE l.locktype = 'advisory' AND l.granted
	  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND l.classid = 0 AND l.objid::bigint = $1 AND l.objsubid = 1
	  AND l.pid <> pg_backend_pid()`

// prepareLockConn readies a new lock connection of member id: it asks the
// server to drop the connection by itself when the member is cut off (TCP
// keepalive and user timeout, and a transaction left open, from the member
// timeout: this is what frees the lock when no other member can end the
// backend), ends this member's own earlier lock backend if it still holds
// the lock (a connection this member dropped while cut off, which the
// server never saw close), and records this connection's backend.
func prepareLockConn(ctx context.Context, conn *pgx.Conn, id string, timeout time.Duration) error {
	secs := strconv.Itoa(max(int(timeout/time.Second)/3, 1))
	for name, value := range map[string]string{
		"tcp_keepalives_idle":                 secs,
		"tcp_keepalives_interval":             secs,
		"tcp_keepalives_count":                "3",
		"tcp_user_timeout":                    strconv.FormatInt(timeout.Milliseconds(), 10),
		"idle_in_transaction_session_timeout": strconv.FormatInt(timeout.Milliseconds(), 10),
	} {
		// Best effort: an older server lacks tcp_user_timeout, and a Unix
		// socket ignores them all; the candidates' takeover still works.
		if _, err := conn.Exec(ctx, `SELECT set_config($1, $2, false)`, name, value); err != nil {
			if ctx.Err() != nil {
				return err
			}
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM (`+heldBy+`) h (pid, node_id, age)
		WHERE node_id = $2`,
		leaderLock, id); err != nil {
		return err
	}
	// A pid is unique among live backends only: clear it from any other
	// member's row, where it names a backend that is gone.
	_, err := conn.Exec(ctx, `UPDATE cluster_members SET lock_pid = CASE WHEN node_id = $1 THEN pg_backend_pid() END
		WHERE node_id = $1 OR lock_pid = pg_backend_pid()`, id)
	return err
}

// endStaleHolder ends the backend holding the leader lock if the member
// that holds it has a heartbeat older than timeout: a leader cut off from
// the database, which has stopped leading by itself (its lease ran out) but
// whose connection the server still believes open. It returns the members
// whose backends it ended.
func endStaleHolder(ctx context.Context, conn *pgx.Conn, timeout time.Duration) ([]string, error) {
	// The select list is evaluated only for the rows the WHERE keeps: a
	// live holder's backend is never signalled.
	rows, err := conn.Query(ctx, `SELECT node_id, pg_terminate_backend(pid) FROM (`+heldBy+`) h (pid, node_id, age)
		WHERE age > $2`, leaderLock, timeout.Milliseconds())
	if err != nil {
		return nil, err
	}
	var ended []string
	for rows.Next() {
		var id string
		var ok bool
		if err := rows.Scan(&id, &ok); err != nil {
			return ended, err
		}
		if ok {
			ended = append(ended, id)
		}
	}
	return ended, rows.Err()
}

// boundConnect makes a connection attempt give up after timeout: without
// it, connecting through a network that drops everything waits for TCP.
func boundConnect(cfg *pgx.ConnConfig, timeout time.Duration) {
	if cfg.ConnectTimeout <= 0 || cfg.ConnectTimeout > timeout {
		cfg.ConnectTimeout = timeout
	}
}

// bounded gives one exchange with the database the member timeout: a
// hanging connection is dropped then (and the exchange retried on a new
// one), rather than held until TCP notices, which can take hours.
func (c *Cluster) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.o.MemberTimeout)
}
