-- One log row per counted write, its deltas side by side in two arrays. A scan appended about
-- thirteen rows of one delta each (its status three times over, its image's grade, base and
-- count, its layer's three sizes), and the fold and every reader of the counters read each of
-- them: 13 of the rows a scan read (bench/replicas_bench.sh). They are now five rows.
-- What the old log holds is folded first, so no delta is lost with it.
INSERT INTO fleet_count_totals(name, value)
SELECT name, sum(delta) FROM fleet_count_log GROUP BY name
ON CONFLICT (name) DO UPDATE SET value = fleet_count_totals.value + excluded.value;

DROP VIEW fleet_counts;
DROP TABLE fleet_count_log;

CREATE TABLE fleet_count_log (
  names  TEXT[] NOT NULL,
  deltas BIGINT[] NOT NULL
);

CREATE VIEW fleet_counts AS
SELECT name, sum(value)::bigint AS value
FROM (SELECT name, value FROM fleet_count_totals
      UNION ALL SELECT d.name, d.delta
      FROM fleet_count_log l, unnest(l.names, l.deltas) d(name, delta)) c
GROUP BY name;

CREATE OR REPLACE FUNCTION bulwark_count(key TEXT, delta BIGINT) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fleet_count_log(names, deltas) SELECT ARRAY[key], ARRAY[delta] WHERE delta <> 0
$$;

CREATE OR REPLACE FUNCTION bulwark_fold_counts() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('bulwark_fold_counts')) THEN
    RETURN false;
  END IF;
  WITH moved AS (DELETE FROM fleet_count_log RETURNING names, deltas)
  INSERT INTO fleet_count_totals(name, value)
  SELECT d.name, sum(d.delta) FROM moved, unnest(moved.names, moved.deltas) d(name, delta)
  GROUP BY d.name
  ON CONFLICT (name) DO UPDATE SET value = fleet_count_totals.value + excluded.value;
  RETURN true;
END $$;

-- An aggregate with no GROUP BY gives one row even over nothing; HAVING drops it, so a write
-- that moves no counter appends no row.
CREATE OR REPLACE FUNCTION bulwark_count_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_count_log(names, deltas)
  SELECT array_agg(n), array_agg(d) FROM (
    SELECT n, sum(d)::bigint AS d FROM (VALUES
        ('images', CASE TG_OP WHEN 'INSERT' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END),
        (CASE WHEN OLD.ruleset_version <> '' THEN
           'grade|' || OLD.ruleset_version || '|' || OLD.grade END, -1),
        (CASE WHEN OLD.ruleset_version <> '' THEN
           'base|' || OLD.ruleset_version || '|' || OLD.base END, -1),
        (CASE WHEN OLD.ruleset_version <> '' THEN 'eol|' || OLD.ruleset_version END, -OLD.eol),
        (CASE WHEN NEW.ruleset_version <> '' THEN
           'grade|' || NEW.ruleset_version || '|' || NEW.grade END, 1),
        (CASE WHEN NEW.ruleset_version <> '' THEN
           'base|' || NEW.ruleset_version || '|' || NEW.base END, 1),
        (CASE WHEN NEW.ruleset_version <> '' THEN 'eol|' || NEW.ruleset_version END, NEW.eol)
      ) v(n, d)
    WHERE n IS NOT NULL
    GROUP BY n HAVING sum(d) <> 0) moved
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bulwark_count_layer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_count_log(names, deltas)
  SELECT array_agg(n), array_agg(d) FROM (VALUES
      ('layers', CASE TG_OP WHEN 'INSERT' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END::bigint),
      ('uncompressed_bytes_analyzed',
       COALESCE(NEW.uncompressed_size, 0) - COALESCE(OLD.uncompressed_size, 0)),
      ('compressed_bytes_fetched',
       COALESCE(NEW.compressed_size, 0) - COALESCE(OLD.compressed_size, 0))
    ) v(n, d)
  WHERE d <> 0
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bulwark_count_scan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_count_log(names, deltas)
  SELECT array_agg(n), array_agg(d)
  FROM (VALUES ('scans|' || OLD.status, -1::bigint), ('scans|' || NEW.status, 1)) v(n, d)
  WHERE n IS NOT NULL
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

-- A repository counts from its first tag row to its last. Whether a row is the first or the
-- last is one probe for another row of the repository; counting them all read every tag row of
-- the repository at each new tag.
CREATE OR REPLACE FUNCTION bulwark_count_repository() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT 1 FROM tags WHERE registry = NEW.registry
                   AND repository = NEW.repository
                   AND (tag, manifest_digest) <> (NEW.tag, NEW.manifest_digest)) THEN
      PERFORM bulwark_count('repositories', 1);
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM tags WHERE registry = OLD.registry
                    AND repository = OLD.repository) THEN
    PERFORM bulwark_count('repositories', -1);
  END IF;
  RETURN NULL;
END $$;
