-- Folds at most ten a second from all replicas together, not ten a second from each. A fold
-- reads and rewrites the total of every name it moves, so each replica's own folds read the
-- totals once more for the same deltas: 2.9, 4.8 and 6.1 rows per scan in fleet_count_totals
-- for 1, 2 and 3 replicas (bench/replicas_bench.sh). The time of the last fold that moved
-- anything is kept in one row, read under the fold's lock.
-- A queue-depth read (bulwark_count_now) folds first, whatever the time, then reads the totals:
-- before, each replica's poll summed every row still in the log, so the log's rows were read
-- once by their fold and again by every poll.
CREATE TABLE fleet_count_folds (
  only_row  BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
  folded_at TIMESTAMPTZ NOT NULL
);
INSERT INTO fleet_count_folds(folded_at) VALUES ('-infinity');

CREATE FUNCTION bulwark_fold_counts(min_interval INTERVAL) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  moved_rows BIGINT;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('bulwark_fold_counts')) THEN
    RETURN false;
  END IF;
  IF min_interval > interval '0'
     AND (SELECT folded_at FROM fleet_count_folds) > clock_timestamp() - min_interval THEN
    RETURN false;
  END IF;
  WITH moved AS (DELETE FROM fleet_count_log RETURNING names, deltas),
  summed AS (
    INSERT INTO fleet_count_totals(name, value)
    SELECT d.name, sum(d.delta) FROM moved, unnest(moved.names, moved.deltas) d(name, delta)
    GROUP BY d.name
    ON CONFLICT (name) DO UPDATE SET value = fleet_count_totals.value + excluded.value)
  SELECT count(*) INTO moved_rows FROM moved;
  IF moved_rows > 0 THEN
    UPDATE fleet_count_folds SET folded_at = clock_timestamp();
  END IF;
  RETURN true;
END $$;

-- What an older bulwarkd calls: a fold whatever the time.
CREATE OR REPLACE FUNCTION bulwark_fold_counts() RETURNS boolean LANGUAGE sql AS $$
  SELECT bulwark_fold_counts(interval '0')
$$;

-- A counter's value now. Folded first unless another fold is under way, in which case the log's
-- rows are summed as any reader sums them. The totals fit in a page, where the planner prefers
-- reading every row to the index; for the one row wanted here the index reads one.
CREATE FUNCTION bulwark_count_now(key TEXT) RETURNS BIGINT LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
  PERFORM bulwark_fold_counts(interval '0');
  RETURN (SELECT value FROM fleet_counts WHERE name = key);
END $$;
