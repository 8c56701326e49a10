-- Counters that replicas never wait on. A trigger used to add its delta to the counter's row, so
-- every scan's transactions locked the same few rows ('scans|running', 'scans|done', 'images')
-- until they committed, and read each of them twice (index entry and row): 25 of the rows a scan
-- read (bench/replicas_bench.sh). A delta is now appended to fleet_count_log, which has no index
-- and is read by nobody on the write path; bulwark_fold_counts() moves the log into the totals
-- from time to time, one replica at a time, and fleet_counts is the sum of both, so readers see
-- every committed delta whether it was folded or not.
ALTER TABLE fleet_counts RENAME TO fleet_count_totals;

CREATE TABLE fleet_count_log (
  name  TEXT NOT NULL,
  delta BIGINT NOT NULL
);

CREATE VIEW fleet_counts AS
SELECT name, sum(value)::bigint AS value
FROM (SELECT name, value FROM fleet_count_totals
      UNION ALL SELECT name, delta FROM fleet_count_log) c
GROUP BY name;

CREATE OR REPLACE FUNCTION bulwark_count(key TEXT, delta BIGINT) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fleet_count_log(name, delta) SELECT key, delta WHERE delta <> 0
$$;

-- Whether the log was folded: false when another transaction is folding it (the log then waits
-- for the next fold; readers still count it).
CREATE FUNCTION bulwark_fold_counts() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('bulwark_fold_counts')) THEN
    RETURN false;
  END IF;
  WITH moved AS (DELETE FROM fleet_count_log RETURNING name, delta)
  INSERT INTO fleet_count_totals(name, value)
  SELECT name, sum(delta) FROM moved GROUP BY name
  ON CONFLICT (name) DO UPDATE SET value = fleet_count_totals.value + excluded.value;
  RETURN true;
END $$;
