-- A claim (bulwark_claim_scans, 016) keeps its plan for the session.
--
-- Its statement was planned at every claim: 0.22 ms per scan with two replicas, most of a
-- scan's planning (bench/replicas_bench.sh, BENCH_PG_TOP with pg_stat_statements.track = all).
-- `LIMIT max_rows` is a parameter, which a generic plan prices at a tenth of the queue; priced
-- so, the update of the picked rows is a merge join that reads the scans' primary key whole,
-- which costs more than the custom plan for one row, so PostgreSQL planned each call anew. Here
-- each row is claimed by its own run of a statement whose limit is the constant 1: its generic
-- plan is the custom one (nothing else it is given changes an estimate), so PostgreSQL keeps it
-- after the first five calls. A claim takes one row but for a replica with more than one
-- worker free; each run sees the rows the runs before it marked running.
CREATE OR REPLACE FUNCTION bulwark_claim_scans(claimer TEXT, lease_seconds INTEGER,
                                               max_rows BIGINT, started TEXT)
RETURNS SETOF scans LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
  FOR taken IN 1..max_rows LOOP
    RETURN QUERY
    WITH picked AS (SELECT s.seq FROM scans s WHERE s.status = 'queued' ORDER BY s.seq
                    LIMIT 1 FOR UPDATE SKIP LOCKED),
    claimed AS (UPDATE scans u SET status = 'running', started_at = started FROM picked
                WHERE u.seq = picked.seq RETURNING u.*),
    leased AS (INSERT INTO leases(key, owner, expires_at)
               SELECT 'scan:' || c.id, claimer, now() + lease_seconds * interval '1 second'
               FROM claimed c
               ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,
                                               expires_at = excluded.expires_at)
    SELECT * FROM claimed;
    EXIT WHEN NOT FOUND;
  END LOOP;
END $$;
