package cluster

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// The cluster keeps its tables itself instead of in the store's numbered
// migrations: only cluster mode on PostgreSQL uses them, they hold
// short-lived coordination state rather than history, and every statement
// is idempotent, so each member can (re)create them whenever it connects.
//
// Times are Unix milliseconds on the database's clock (nowMS), never on a
// member's: members on different machines compare heartbeats and
// observations without trusting each other's clocks.
const schema = `
CREATE TABLE IF NOT EXISTS cluster_members (
	node_id      TEXT   PRIMARY KEY,
	label        TEXT   NOT NULL,
	started_ms   BIGINT NOT NULL,
	heartbeat_ms BIGINT NOT NULL
);
-- The backend of the member's lock connection (see takeover.go).
ALTER TABLE cluster_members ADD COLUMN IF NOT EXISTS lock_pid INTEGER;
-- The latest observation of each replica by each member.
CREATE TABLE IF NOT EXISTS cluster_observations (
	member      TEXT   NOT NULL,
	service     TEXT   NOT NULL,
	node        TEXT   NOT NULL,
	replica     TEXT   NOT NULL,
	health      TEXT   NOT NULL CHECK (health IN ('healthy', 'sick', 'dead')),
	latency_ms  BIGINT NOT NULL,
	reason      TEXT   NOT NULL,
	observed_ms BIGINT NOT NULL,
	PRIMARY KEY (member, service, node, replica)
);
-- The status the leader decided for each replica.
CREATE TABLE IF NOT EXISTS cluster_decided (
	service    TEXT   NOT NULL,
	node       TEXT   NOT NULL,
	replica    TEXT   NOT NULL,
	health     TEXT   NOT NULL CHECK (health IN ('healthy', 'sick', 'dead')),
	reason     TEXT   NOT NULL,
	since_ms   BIGINT NOT NULL,
	decided_ms BIGINT NOT NULL,
	version    BIGINT NOT NULL,
	PRIMARY KEY (service, node, replica)
);
-- One row: the version counter of decisions, the current leader, and the
-- page status last handed to the alerting (handed_version numbers those
-- hand-offs: the idempotency key of an alert).
CREATE TABLE IF NOT EXISTS cluster_state (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	version         BIGINT  NOT NULL,
	leader          TEXT    NOT NULL,
	leader_since_ms BIGINT  NOT NULL,
	handed_version  BIGINT  NOT NULL DEFAULT 0,
	handed_health   TEXT    NOT NULL DEFAULT 'healthy',
	handed_dead     TEXT    NOT NULL DEFAULT ''
);
INSERT INTO cluster_state (id, version, leader, leader_since_ms) VALUES (1, 0, '', 0) ON CONFLICT (id) DO NOTHING;
-- Every decided change, once: its version is the change's idempotency key.
CREATE TABLE IF NOT EXISTS cluster_transitions (
	version     BIGINT PRIMARY KEY,
	service     TEXT   NOT NULL,
	node        TEXT   NOT NULL,
	replica     TEXT   NOT NULL,
	from_health TEXT   NOT NULL,
	to_health   TEXT   NOT NULL,
	reason      TEXT   NOT NULL,
	at_ms       BIGINT NOT NULL,
	decided_by  TEXT   NOT NULL
);
-- Which transaction last wrote each observation and decision, stamped by a
-- trigger whatever the statement: each member reads only the rows written
-- since its previous read (see mirror.go).
ALTER TABLE cluster_observations ADD COLUMN IF NOT EXISTS written_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE cluster_decided ADD COLUMN IF NOT EXISTS written_xid xid8 NOT NULL DEFAULT '0';
CREATE INDEX IF NOT EXISTS cluster_observations_written ON cluster_observations (written_xid);
CREATE INDEX IF NOT EXISTS cluster_decided_written ON cluster_decided (written_xid);
CREATE OR REPLACE FUNCTION cluster_stamp_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.written_xid := pg_current_xact_id();
	RETURN NEW;
END $$;
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'cluster_observations_written' AND tgrelid = 'cluster_observations'::regclass) THEN
		CREATE TRIGGER cluster_observations_written BEFORE INSERT OR UPDATE ON cluster_observations
			FOR EACH ROW EXECUTE FUNCTION cluster_stamp_written();
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'cluster_decided_written' AND tgrelid = 'cluster_decided'::regclass) THEN
		CREATE TRIGGER cluster_decided_written BEFORE INSERT OR UPDATE ON cluster_decided
			FOR EACH ROW EXECUTE FUNCTION cluster_stamp_written();
	END IF;
END $$;
-- Reports of push and local replicas received by any member, replayed by
-- the others.
CREATE TABLE IF NOT EXISTS cluster_reports (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	member      TEXT   NOT NULL,
	service     TEXT   NOT NULL,
	node        TEXT   NOT NULL,
	replica     TEXT   NOT NULL,
	flush       BOOLEAN NOT NULL,
	interval_ms BIGINT NOT NULL,
	cpu         DOUBLE PRECISION,
	ram         DOUBLE PRECISION,
	health      TEXT,
	at_ms       BIGINT NOT NULL
);
`

// nowMS is the database's clock in Unix milliseconds.
const nowMS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`

// schemaLock serialises the creation of the tables between members
// starting together ("vigC").
const schemaLock = 0x76696743

// leaderLock is the session advisory lock whose holder leads ("vigL").
const leaderLock = 0x7669674c

// ensureSchema creates the cluster's tables if they are missing.
func ensureSchema(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
