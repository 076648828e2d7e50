-- Probe samples rolled up per replica and UTC day (start_ms is a UTC
-- midnight), written with the minute and hour buckets and pruned with the
-- hour buckets, so that a day always holds the sum of its hour buckets. The
-- 90-day history reads 90 rows per replica instead of summing 2160 hours.
CREATE TABLE day_buckets (
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
CREATE INDEX day_buckets_start ON day_buckets (start_ms);

-- The days of the hour buckets already stored. The remainder is taken twice
-- so that a time before 1970 still falls on the midnight before it.
INSERT INTO day_buckets (series_id, start_ms, healthy, sick, dead, lat_count, lat_min_ns, lat_max_ns, lat_sum_ns)
SELECT series_id, day_ms,
	SUM(healthy), SUM(sick), SUM(dead), SUM(lat_count),
	COALESCE(MIN(CASE WHEN lat_count > 0 THEN lat_min_ns END), 0),
	COALESCE(MAX(CASE WHEN lat_count > 0 THEN lat_max_ns END), 0),
	SUM(lat_sum_ns)
FROM (SELECT h.*, start_ms - ((start_ms % 86400000) + 86400000) % 86400000 AS day_ms FROM hour_buckets h) hours
GROUP BY series_id, day_ms;
