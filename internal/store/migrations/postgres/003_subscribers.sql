-- Visitors subscribed to updates by e-mail, and partners' webhooks.
-- services is a JSON array of service ids; [] means every service.
CREATE TABLE subscribers (
	seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id           TEXT   NOT NULL UNIQUE,
	kind         TEXT   NOT NULL CHECK (kind IN ('email', 'webhook')),
	address      TEXT   NOT NULL,
	services     TEXT   NOT NULL,
	secret       TEXT   NOT NULL DEFAULT '',
	state        TEXT   NOT NULL CHECK (state IN ('pending', 'confirmed')),
	created_ms   BIGINT NOT NULL,
	confirmed_ms BIGINT,
	token        TEXT   NOT NULL UNIQUE,
	UNIQUE (kind, address)
);
CREATE INDEX subscribers_state ON subscribers (state, created_ms);

-- The keys that sign confirmation links, newest signing.
CREATE TABLE subscription_keys (
	id         TEXT   PRIMARY KEY,
	secret     BYTEA  NOT NULL,
	created_ms BIGINT NOT NULL
);

-- Events already sent to subscribers (an incident opened, a window
-- starting…), by key, with when they happened; and the time subscriptions
-- started, before which nothing is sent.
CREATE TABLE subscription_events (
	key   TEXT   PRIMARY KEY,
	at_ms BIGINT NOT NULL
);
CREATE INDEX subscription_events_at ON subscription_events (at_ms);
CREATE TABLE subscription_state (
	name     TEXT   PRIMARY KEY,
	value_ms BIGINT NOT NULL
);
