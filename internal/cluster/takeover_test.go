package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestTakeover checks the statements a candidate relies on, against
// PostgreSQL: a lock connection records its backend, a member's own
// earlier lock backend is ended when it connects again, a holder whose
// member's heartbeat is stale is ended, and one whose heartbeat is fresh
// never is.
func TestTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	dbURL := freshDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func() *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	admin := connect()
	if err := ensureSchema(ctx, admin); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// heartbeat sets member id's heartbeat age in the database.
	heartbeat := func(id string, age time.Duration) {
		exec(`INSERT INTO cluster_members (node_id, label, started_ms, heartbeat_ms) VALUES ($1, $1, 0, `+nowMS+` - $2)
			ON CONFLICT (node_id) DO UPDATE SET heartbeat_ms = EXCLUDED.heartbeat_ms`, id, age.Milliseconds())
	}
	pid := func(conn *pgx.Conn) uint32 { return conn.PgConn().PID() }
	alive := func(p uint32) bool {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, p).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	lock := func(conn *pgx.Conn) bool {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, leaderLock).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	const timeout = 3 * time.Second

	heartbeat("a", 0)
	heartbeat("b", 0)
	a1 := connect()
	if err := prepareLockConn(ctx, a1, "a", timeout); err != nil {
		t.Fatal(err)
	}
	var idle, inTx string
	if err := a1.QueryRow(ctx, `SELECT current_setting('tcp_keepalives_idle'), current_setting('idle_in_transaction_session_timeout')`).Scan(&idle, &inTx); err != nil {
		t.Fatal(err)
	}
	if idle != "1" || inTx != "3s" {
		t.Errorf("lock connection: tcp_keepalives_idle %s, idle_in_transaction_session_timeout %s; want 1 and 3s", idle, inTx)
	}
	if !lock(a1) {
		t.Fatal("a could not take a free lock")
	}

	// b, live, tries while a is live: nothing is ended.
	b := connect()
	if err := prepareLockConn(ctx, b, "b", timeout); err != nil {
		t.Fatal(err)
	}
	if ended, err := endStaleHolder(ctx, b, timeout); err != nil || len(ended) != 0 || !alive(pid(a1)) {
		t.Fatalf("with a live holder: ended %v (%v), a's backend alive %v", ended, err, alive(pid(a1)))
	}

	// a connects again (its first connection was dropped unseen): its old
	// backend is ended and the new one recorded.
	a2 := connect()
	if err := prepareLockConn(ctx, a2, "a", timeout); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a's earlier backend ended", func() bool { return !alive(pid(a1)) })
	var recorded uint32
	if err := admin.QueryRow(ctx, `SELECT lock_pid FROM cluster_members WHERE node_id = 'a'`).Scan(&recorded); err != nil || recorded != pid(a2) {
		t.Fatalf("a's lock_pid %d (%v), want its new backend %d", recorded, err, pid(a2))
	}
	if !lock(a2) {
		t.Fatal("a could not take the lock its earlier backend held")
	}

	// a's heartbeat goes stale: b ends a's backend and takes the lock.
	heartbeat("a", timeout+time.Second)
	ended, err := endStaleHolder(ctx, b, timeout)
	if err != nil || len(ended) != 1 || ended[0] != "a" {
		t.Fatalf("with a stale holder: ended %v (%v), want a", ended, err)
	}
	waitUntil(t, "b takes the lock", func() bool { return lock(b) })

	// A candidate under another role, which may not signal the holder's
	// backend, says so once and keeps its connection.
	role := fmt.Sprintf("vigil_other_%d", rand.Int64N(1e12))
	exec(`CREATE ROLE ` + role + ` LOGIN`)
	t.Cleanup(func() {
		admin.Exec(context.Background(), `DROP OWNED BY `+role)
		admin.Exec(context.Background(), `DROP ROLE `+role)
	})
	exec(`GRANT SELECT ON cluster_members TO ` + role)
	heartbeat("b", timeout+time.Second)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	other, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	logs := &testkit.LogBuffer{}
	c := &Cluster{o: Options{MemberTimeout: timeout}, log: slog.New(slog.NewTextHandler(logs, nil))}
	for range 2 {
		if got, err := c.tryLock(ctx, other); got || err != nil {
			t.Fatalf("tryLock under a role that may not end the holder: %v, %v; want false, nil", got, err)
		}
	}
	if n := strings.Count(logs.String(), "cannot end the lock connection"); n != 1 || !alive(pid(b)) {
		t.Errorf("refused takeover logged %d times (want once), b's backend alive %v:\n%s", n, alive(pid(b)), logs.String())
	}
	heartbeat("b", 0)

	// A pid recorded by a member that is gone is cleared when a backend
	// with that pid records itself, so that a stale row never names a live
	// holder.
	exec(`UPDATE cluster_members SET lock_pid = $1 WHERE node_id = 'a'`, pid(b))
	if err := prepareLockConn(ctx, b, "b", timeout); err != nil {
		t.Fatal(err)
	}
	if ended, err := endStaleHolder(ctx, connect(), timeout); err != nil || len(ended) != 0 || !alive(pid(b)) {
		t.Fatalf("a stale row naming b's backend: ended %v (%v), b's backend alive %v", ended, err, alive(pid(b)))
	}
}
