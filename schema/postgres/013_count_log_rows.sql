-- Each counting trigger appends its deltas in one statement. Through bulwark_count() every delta
-- was a PERFORM of a SQL function running its own INSERT: thirteen executor start-ups per scan.
-- Deltas that cancel (a summary rewritten with the same grade) are not appended at all.
-- OLD and NEW read as NULL where the operation has none; names made from them are then NULL and
-- dropped.
CREATE OR REPLACE FUNCTION bulwark_count_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_count_log(name, delta)
  SELECT n, sum(d) FROM (VALUES
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
  GROUP BY n HAVING sum(d) <> 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bulwark_count_layer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_count_log(name, delta)
  SELECT n, d FROM (VALUES
      ('layers', CASE TG_OP WHEN 'INSERT' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END),
      ('uncompressed_bytes_analyzed',
       COALESCE(NEW.uncompressed_size, 0) - COALESCE(OLD.uncompressed_size, 0)),
      ('compressed_bytes_fetched',
       COALESCE(NEW.compressed_size, 0) - COALESCE(OLD.compressed_size, 0))
    ) v(n, d)
  WHERE d <> 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION bulwark_count_scan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_count_log(name, delta)
  SELECT n, d FROM (VALUES ('scans|' || OLD.status, -1), ('scans|' || NEW.status, 1)) v(n, d)
  WHERE n IS NOT NULL;
  RETURN NULL;
END $$;
