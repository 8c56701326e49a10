-- Reads of one key that stay reads of one key whatever the table's size. On a table of a few
-- pages the planner prices a whole-table read below an index probe, and a prepared statement
-- keeps the plan it made while the table was small: on a store of 450 images the repository
-- counter's probe read 539 tag rows per scan and the lock of an image's latest result 299 rows
-- (bench/replicas_bench.sh, BENCH_PG_TABLES=1). Each is a probe of a key an index holds, so the
-- index is the right plan at every size; pricing whole-table reads out here says so.
--
-- Every function priced so also turns JIT off. A whole-table read left in such a plan (the count
-- log has no index: it is read whole on purpose) is priced at 10^10, far above jit_above_cost,
-- so each run compiled the statement with LLVM: bulwark_count_now, the once-a-second
-- queue-depth read of every replica, took 55-117 ms of PostgreSQL's CPU instead of under one
-- (EXPLAIN ANALYZE: "JIT: Inlining true, Optimization true").
ALTER FUNCTION bulwark_count_now(TEXT) SET jit = off;
ALTER FUNCTION bulwark_count_repository() SET enable_seqscan = off;
ALTER FUNCTION bulwark_count_repository() SET jit = off;

-- An image's latest counted result, locked until the transaction ends (count_result in
-- server/store/postgres_store.cpp).
CREATE FUNCTION bulwark_latest_result(key TEXT)
RETURNS TABLE(score INTEGER, grade TEXT, finished_at TEXT) LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
  RETURN QUERY SELECT l.score, l.grade, l.finished_at FROM latest_results l WHERE l.image = key
    FOR UPDATE;
END $$;

-- The tags that point at an image, newest first: each scan's report context reads them
-- (read_report_context in server/store/postgres_store.cpp). 130 tag rows per scan with three
-- replicas when the plan read the whole table.
CREATE FUNCTION bulwark_digest_tags(digest TEXT, max_rows INTEGER)
RETURNS TABLE(name TEXT, last_seen TEXT) LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET jit = off AS $$
BEGIN
  RETURN QUERY SELECT t.registry || '/' || t.repository || ':' || t.tag, t.last_seen FROM tags t
    WHERE t.manifest_digest = digest ORDER BY t.last_seen DESC LIMIT max_rows;
END $$;

-- The queue in the order replicas claim it. Claims walked scans_pending_by_image whole (every
-- queued and running scan, and the dead entries of those claimed since the last vacuum) and
-- sorted it: 299 index entries per scan with three replicas; on a queue of a page they read the
-- table whole. This index holds queued scans only, in claim order, so a claim reads from its
-- start and stops at the rows it takes.
CREATE INDEX scans_queued ON scans(seq) WHERE status = 'queued';

-- ... and it is the only index in claim order. scans_by_status, (status, seq), held the queued
-- scans in seq order too, and with three replicas the planner walked it in two runs of three:
-- 13.6 and 15.4 entries per scan, against 2.0-2.2 by scans_queued in the same runs. The lists
-- by status name their status as a constant (list_scans in server/store/postgres_store.cpp),
-- which the planner matches to this index's predicate; a list of queued scans reads
-- scans_queued backwards.
DROP INDEX scans_by_status;
CREATE INDEX scans_by_status_past_queue ON scans(status, seq) WHERE status <> 'queued';

-- A claim (claim_locked in server/store/postgres_store.cpp): the first queued scans no other
-- replica holds, marked running and leased to the claimer, in one statement. The claimed rows
-- are updated through the key the walk returned; priced as a join of an unknown number of rows,
-- that update read the table whole.
CREATE FUNCTION bulwark_claim_scans(claimer TEXT, lease_seconds INTEGER, max_rows BIGINT,
                                    started TEXT)
RETURNS SETOF scans LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
  RETURN QUERY
  WITH picked AS (SELECT s.seq FROM scans s WHERE s.status = 'queued' ORDER BY s.seq
                  LIMIT max_rows FOR UPDATE SKIP LOCKED),
  claimed AS (UPDATE scans u SET status = 'running', started_at = started FROM picked
              WHERE u.seq = picked.seq RETURNING u.*),
  leased AS (INSERT INTO leases(key, owner, expires_at)
             SELECT 'scan:' || c.id, claimer, now() + lease_seconds * interval '1 second'
             FROM claimed c
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,
                                             expires_at = excluded.expires_at)
  SELECT * FROM claimed;
END $$;

-- The end of a lease: a layer's fetch (any holder) or a scan's or a key's (its holder only).
-- The table holds the leases in force, a few rows per replica, so whole-table reads were
-- chosen: 36 lease rows per scan with three replicas.
CREATE FUNCTION bulwark_end_lease(lease_key TEXT, holder TEXT) RETURNS void LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
  DELETE FROM leases l WHERE l.key = lease_key AND (holder IS NULL OR l.owner = holder);
END $$;
