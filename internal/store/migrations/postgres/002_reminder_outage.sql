-- The identity of the outage a reminder state is in, for incident tools
-- (PagerDuty's dedup_key, Opsgenie's alias): '' when none.
ALTER TABLE reminders ADD COLUMN outage TEXT NOT NULL DEFAULT '';
