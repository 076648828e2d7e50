-- Vigil's first schema. Every time is Unix milliseconds UTC; every latency is
-- nanoseconds. Health values are their wire names ('healthy', 'sick', 'dead').
-- The tables mirror migrations/sqlite/001_initial.sql column for column.

-- Status changes of replicas, nodes, services and the page (level 'general').
CREATE TABLE changes (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at_ms       BIGINT NOT NULL,
	level       TEXT   NOT NULL CHECK (level IN ('replica', 'node', 'service', 'general')),
	service     TEXT   NOT NULL,
	node        TEXT   NOT NULL,
	replica     TEXT   NOT NULL,
	from_health TEXT   NOT NULL CHECK (from_health IN ('healthy', 'sick', 'dead')),
	to_health   TEXT   NOT NULL CHECK (to_health IN ('healthy', 'sick', 'dead')),
	reason      TEXT   NOT NULL
);
CREATE INDEX changes_key ON changes (service, node, level, replica, at_ms);
CREATE INDEX changes_at ON changes (at_ms);

-- One row per checked replica, so that buckets carry a small integer key.
-- Rows are never deleted: ids are cached by running processes.
CREATE TABLE series (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	service TEXT NOT NULL,
	node    TEXT NOT NULL,
	replica TEXT NOT NULL,
	UNIQUE (service, node, replica)
);

-- Probe samples rolled up per replica and minute, and per replica and hour.
CREATE TABLE minute_buckets (
	series_id  BIGINT  NOT NULL REFERENCES series (id),
	start_ms   BIGINT  NOT NULL,
	healthy    INTEGER NOT NULL,
	sick       INTEGER NOT NULL,
	dead       INTEGER NOT NULL,
	lat_count  INTEGER NOT NULL,
	lat_min_ns BIGINT  NOT NULL,
	lat_max_ns BIGINT  NOT NULL,
	lat_sum_ns BIGINT  NOT NULL,
	PRIMARY KEY (series_id, start_ms)
);
CREATE INDEX minute_buckets_start ON minute_buckets (start_ms);

CREATE TABLE hour_buckets (
	series_id  BIGINT  NOT NULL REFERENCES series (id),
	start_ms   BIGINT  NOT NULL,
	healthy    INTEGER NOT NULL,
	sick       INTEGER NOT NULL,
	dead       INTEGER NOT NULL,
	lat_count  INTEGER NOT NULL,
	lat_min_ns BIGINT  NOT NULL,
	lat_max_ns BIGINT  NOT NULL,
	lat_sum_ns BIGINT  NOT NULL,
	PRIMARY KEY (series_id, start_ms)
);
CREATE INDEX hour_buckets_start ON hour_buckets (start_ms);

-- When each vigil instance was running: [start_ms, end_ms), extended by heartbeats.
CREATE TABLE running (
	instance TEXT   NOT NULL,
	start_ms BIGINT NOT NULL,
	end_ms   BIGINT NOT NULL,
	PRIMARY KEY (instance, start_ms)
);
CREATE INDEX running_end ON running (end_ms);

-- Push and local replicas with their last report.
CREATE TABLE replicas (
	service        TEXT             NOT NULL,
	node           TEXT             NOT NULL,
	replica        TEXT             NOT NULL,
	mode           TEXT             NOT NULL,
	interval_ms    BIGINT           NOT NULL,
	last_report_ms BIGINT           NOT NULL,
	has_load       BOOLEAN          NOT NULL,
	cpu            DOUBLE PRECISION NOT NULL,
	ram            DOUBLE PRECISION NOT NULL,
	health         TEXT             NOT NULL CHECK (health IN ('healthy', 'sick', 'dead')),
	reason         TEXT             NOT NULL,
	PRIMARY KEY (service, node, replica)
);

CREATE TABLE announcements (
	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         TEXT   NOT NULL UNIQUE,
	title      TEXT   NOT NULL,
	body       TEXT   NOT NULL,
	created_ms BIGINT NOT NULL,
	updated_ms BIGINT
);

-- Maintenance windows; targets is a JSON array of "service" or "service:node".
CREATE TABLE maintenance (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	start_ms BIGINT NOT NULL,
	end_ms   BIGINT NOT NULL,
	targets  TEXT   NOT NULL,
	message  TEXT   NOT NULL,
	CHECK (end_ms > start_ms)
);
CREATE INDEX maintenance_end ON maintenance (end_ms);

-- Incidents; nodes is a JSON array of "service:node".
CREATE TABLE incidents (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title       TEXT    NOT NULL,
	auto        BOOLEAN NOT NULL,
	nodes       TEXT    NOT NULL,
	opened_ms   BIGINT  NOT NULL,
	resolved_ms BIGINT
);
CREATE INDEX incidents_opened ON incidents (opened_ms);
CREATE INDEX incidents_resolved ON incidents (resolved_ms);

CREATE TABLE incident_updates (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
	at_ms       BIGINT NOT NULL,
	status      TEXT   NOT NULL,
	body        TEXT   NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, at_ms);

-- Reminder state per alert scope ('' is the page-wide status).
CREATE TABLE reminders (
	scope            TEXT    PRIMARY KEY,
	last_notified_ms BIGINT,
	backoff          INTEGER NOT NULL,
	escalation       INTEGER NOT NULL,
	ignore_until_ms  BIGINT,
	last_status      TEXT    NOT NULL CHECK (last_status IN ('healthy', 'sick', 'dead')),
	last_dead        TEXT    NOT NULL
);

-- Alert outbox: one row per message and target; id is the idempotency key.
CREATE TABLE outbox (
	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         TEXT    NOT NULL UNIQUE,
	channel    TEXT    NOT NULL,
	target     TEXT    NOT NULL,
	payload    BYTEA   NOT NULL,
	created_ms BIGINT  NOT NULL,
	next_ms    BIGINT  NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT    NOT NULL DEFAULT '',
	state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'given_up')),
	done_ms    BIGINT
);
CREATE INDEX outbox_pending ON outbox (channel, target, seq) WHERE state = 'pending';
CREATE INDEX outbox_done ON outbox (done_ms) WHERE state <> 'pending';
