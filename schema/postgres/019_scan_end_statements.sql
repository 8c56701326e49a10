-- A scan's end written by statements that nothing waits for.
--
-- A scan's end was five round trips: the claim of the next scan, the scan's row (whose
-- result said whether the row moved, and so whether to announce and count it), the image's
-- latest result, the days the count reached, then COMMIT. Each is a wake-up of the backend and
-- of the daemon's thread: a sixth of PostgreSQL's CPU in a scan was the sockets' sends and
-- waits (perf on bench/replicas_bench.sh's backends). As functions, the row and its count go
-- with the transaction's other writes, and the store sends them, the claim and COMMIT in one
-- pipeline. The steps inside each function, and their order, are those the store sent before
-- this migration (write_scan, put_scan_locked and count_result in
-- server/store/postgres_store.cpp).
-- Whole-table reads and JIT are priced out as in 016.

-- The day's trend rows, made from the day before's (a day without a row is as the one before
-- it). Another replica making them at once leaves this one's insert a no-op.
CREATE FUNCTION bulwark_make_day(new_day TEXT) RETURNS void LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
BEGIN
  INSERT INTO fleet_days(day, images, scans, score_sum)
  SELECT new_day,
         COALESCE((SELECT f.images FROM fleet_days f WHERE f.day < new_day
                   ORDER BY f.day DESC LIMIT 1), 0),
         0,
         COALESCE((SELECT f.score_sum FROM fleet_days f WHERE f.day < new_day
                   ORDER BY f.day DESC LIMIT 1), 0)
  ON CONFLICT (day) DO NOTHING;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO fleet_day_grades(day, grade, images)
  SELECT new_day, g.grade, g.images FROM fleet_day_grades g
  WHERE g.day = (SELECT max(f.day) FROM fleet_days f WHERE f.day < new_day) AND g.images > 0;
  INSERT INTO fleet_day_scores(day, score, images)
  SELECT new_day, s.score, s.images FROM fleet_day_scores s
  WHERE s.day = (SELECT max(f.day) FROM fleet_days f WHERE f.day < new_day) AND s.images > 0;
END $$;

-- The trend rows brought up to a reference's new result: the result's day (made when it has
-- no row yet) and every later day lose the reference's previous result and count this one. A
-- result older than the one counted changes nothing; the same result again (a registry pass's
-- unchanged tag) only counts one more scan that day.
CREATE FUNCTION bulwark_count_result(reference TEXT, new_score INTEGER, new_grade TEXT,
                                     finished TEXT) RETURNS void LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
DECLARE
  result_day CONSTANT TEXT := substr(finished, 1, 10);
  was RECORD;
  counted BOOLEAN;
  was_score INTEGER := 0;
  was_grade TEXT := '';
  reached TEXT[];
BEGIN
  SELECT l.score, l.grade, l.finished_at INTO was FROM latest_results l
  WHERE l.image = reference FOR UPDATE;
  counted := FOUND;
  IF counted THEN
    IF was.finished_at > finished THEN
      RETURN;
    END IF;
    was_score := was.score;
    was_grade := was.grade;
  END IF;
  IF counted AND was_score = new_score AND was_grade = new_grade THEN
    UPDATE fleet_days SET scans = scans + 1 WHERE day = result_day;
    IF NOT FOUND THEN
      PERFORM bulwark_make_day(result_day);
      UPDATE fleet_days SET scans = scans + 1 WHERE day = result_day;
    END IF;
    UPDATE latest_results SET finished_at = finished WHERE image = reference;
    RETURN;
  END IF;
  -- The days the result reaches, as the update of their rows returns them. The day's row
  -- exists from its first result on, so it is updated first, and made (from the day before,
  -- which the update does not reach) only when the update misses it.
  WITH moved AS (
    UPDATE fleet_days SET images = images + CASE WHEN counted THEN 0 ELSE 1 END,
                          score_sum = score_sum + (new_score - was_score),
                          scans = scans + CASE WHEN day = result_day THEN 1 ELSE 0 END
    WHERE day >= result_day RETURNING day)
  SELECT COALESCE(array_agg(moved.day), '{}') INTO reached FROM moved;
  IF NOT result_day = ANY (reached) THEN
    PERFORM bulwark_make_day(result_day);
    UPDATE fleet_days SET images = images + CASE WHEN counted THEN 0 ELSE 1 END,
                          score_sum = score_sum + (new_score - was_score), scans = scans + 1
    WHERE day = result_day;
    IF FOUND THEN
      reached := reached || result_day;
    END IF;
  END IF;
  IF counted THEN
    UPDATE fleet_day_grades SET images = images - 1 WHERE day >= result_day AND grade = was_grade;
    UPDATE fleet_day_scores SET images = images - 1 WHERE day >= result_day AND score = was_score;
  END IF;
  INSERT INTO fleet_day_grades(day, grade, images) SELECT d, new_grade, 1 FROM unnest(reached) d
  ON CONFLICT (day, grade) DO UPDATE SET images = fleet_day_grades.images + 1;
  INSERT INTO fleet_day_scores(day, score, images) SELECT d, new_score, 1 FROM unnest(reached) d
  ON CONFLICT (day, score) DO UPDATE SET images = fleet_day_scores.images + 1;
  INSERT INTO latest_results(image, score, grade, finished_at)
  VALUES (reference, new_score, new_grade, finished)
  ON CONFLICT (image) DO UPDATE SET score = excluded.score, grade = excluded.grade,
                                    finished_at = excluded.finished_at;
END $$;

-- A scan's final row: written only while the stored row is queued or running (a repeated
-- write of a finished scan changes nothing), and when written, announced with `notice` and,
-- for a judged result (`judged_score` not NULL), counted in the day's results and the trend.
-- Its own statements write by key and read nothing, so it sets no planner option: a function
-- that does pays for saving and restoring the settings at every call.
CREATE FUNCTION bulwark_end_scan(new_id TEXT, new_image TEXT, new_platform TEXT,
                                 new_status TEXT, new_manifest_digest TEXT,
                                 new_index_digest TEXT, new_error_code TEXT,
                                 new_error_message TEXT, new_progress TEXT, new_created_at TEXT,
                                 new_started_at TEXT, new_finished_at TEXT, new_policy TEXT,
                                 new_result TEXT, new_request_id TEXT, notice TEXT,
                                 judged_score INTEGER, judged_grade TEXT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO scans(id, image, platform, status, manifest_digest, index_digest, error_code,
                    error_message, progress, created_at, started_at, finished_at, policy, result,
                    request_id)
  VALUES (new_id, new_image, new_platform, new_status, new_manifest_digest, new_index_digest,
          new_error_code, new_error_message, new_progress, new_created_at, new_started_at,
          new_finished_at, new_policy, new_result, new_request_id)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                                 manifest_digest = excluded.manifest_digest,
                                 index_digest = excluded.index_digest,
                                 error_code = excluded.error_code,
                                 error_message = excluded.error_message,
                                 progress = excluded.progress, started_at = excluded.started_at,
                                 finished_at = excluded.finished_at, result = excluded.result
  WHERE scans.status IN ('queued', 'running');
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM pg_notify('bulwark_scan_ends', notice);
  IF judged_score IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO daily_results(day, image, manifest_digest, score, grade, finished_at, scans)
  VALUES (substr(new_finished_at, 1, 10), new_image, new_manifest_digest, judged_score,
          judged_grade, new_finished_at, 1)
  ON CONFLICT (day, image) DO UPDATE SET manifest_digest = excluded.manifest_digest,
                                         score = excluded.score, grade = excluded.grade,
                                         finished_at = excluded.finished_at,
                                         scans = daily_results.scans + 1;
  PERFORM bulwark_count_result(new_image, judged_score, judged_grade, new_finished_at);
END $$;
