-- Statements of every scan that PostgreSQL planned at each run: planned once per session now.
--
-- The digests a statement probes `layers` by, one row each, priced as an image's few layers.
-- A scan's first look (the report and its layers' metas, in one statement) took 0.16-0.18 ms of
-- planning at every run, a tenth of the scan's PostgreSQL time (bench/replicas_bench.sh,
-- BENCH_PG_TOP): unnest's row estimate is exact for an array value (its support function counts
-- it) and 100 for a parameter, so the plan for the session's parameter always cost more than
-- one made for the value, and the prepared statement was planned again for each value. This
-- function's estimate is the same for both, so PostgreSQL keeps the generic plan after its
-- first five runs. A loop, not a query: nothing inside it is planned either. The caller passes
-- each digest once.
CREATE FUNCTION bulwark_elements(items TEXT[]) RETURNS SETOF TEXT LANGUAGE plpgsql IMMUTABLE
STRICT ROWS 8 AS $$
DECLARE
  item TEXT;
BEGIN
  FOREACH item IN ARRAY items LOOP
    RETURN NEXT item;
  END LOOP;
END $$;

-- A counter's delta appended to the count log (012, 014): the repository counter's call took
-- 0.08 ms per new repository, 0.03 ms of it planning its one statement (pg_stat_statements with
-- track = all), because a SQL function's statements are planned at every call; PL/pgSQL keeps
-- their plans for the session.
CREATE OR REPLACE FUNCTION bulwark_count(key TEXT, delta BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF delta <> 0 THEN
    INSERT INTO fleet_count_log(names, deltas) VALUES (ARRAY[key], ARRAY[delta]);
  END IF;
END $$;
