-- PostgreSQL form of schema/011_fleet_counts.sql: /v1/stats read from counters kept by
-- triggers on the rows they count. Names: images, layers, repositories,
-- uncompressed_bytes_analyzed, compressed_bytes_fetched, scans|<status>,
-- grade|<ruleset>|<grade>, base|<ruleset>|<base>, eol|<ruleset>.
CREATE TABLE fleet_counts (
  name  TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);

CREATE FUNCTION bulwark_count(key TEXT, delta BIGINT) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fleet_counts(name, value) VALUES (key, delta)
  ON CONFLICT (name) DO UPDATE SET value = fleet_counts.value + excluded.value
$$;

CREATE FUNCTION bulwark_count_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF TG_OP = 'DELETE' THEN PERFORM bulwark_count('images', -1); END IF;
    IF OLD.ruleset_version <> '' THEN
      PERFORM bulwark_count('grade|' || OLD.ruleset_version || '|' || OLD.grade, -1);
      PERFORM bulwark_count('base|' || OLD.ruleset_version || '|' || OLD.base, -1);
      PERFORM bulwark_count('eol|' || OLD.ruleset_version, -OLD.eol);
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    IF TG_OP = 'INSERT' THEN PERFORM bulwark_count('images', 1); END IF;
    IF NEW.ruleset_version <> '' THEN
      PERFORM bulwark_count('grade|' || NEW.ruleset_version || '|' || NEW.grade, 1);
      PERFORM bulwark_count('base|' || NEW.ruleset_version || '|' || NEW.base, 1);
      PERFORM bulwark_count('eol|' || NEW.ruleset_version, NEW.eol);
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER image_summaries_count AFTER INSERT OR DELETE ON image_summaries
  FOR EACH ROW EXECUTE FUNCTION bulwark_count_summary();
CREATE TRIGGER image_summaries_count_update
  AFTER UPDATE OF ruleset_version, grade, base, eol ON image_summaries
  FOR EACH ROW EXECUTE FUNCTION bulwark_count_summary();

CREATE FUNCTION bulwark_count_layer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF TG_OP = 'DELETE' THEN PERFORM bulwark_count('layers', -1); END IF;
    PERFORM bulwark_count('uncompressed_bytes_analyzed', -COALESCE(OLD.uncompressed_size, 0));
    PERFORM bulwark_count('compressed_bytes_fetched', -COALESCE(OLD.compressed_size, 0));
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    IF TG_OP = 'INSERT' THEN PERFORM bulwark_count('layers', 1); END IF;
    PERFORM bulwark_count('uncompressed_bytes_analyzed', COALESCE(NEW.uncompressed_size, 0));
    PERFORM bulwark_count('compressed_bytes_fetched', COALESCE(NEW.compressed_size, 0));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER layers_count AFTER INSERT OR DELETE ON layers
  FOR EACH ROW EXECUTE FUNCTION bulwark_count_layer();
CREATE TRIGGER layers_count_update AFTER UPDATE OF uncompressed_size, compressed_size ON layers
  FOR EACH ROW EXECUTE FUNCTION bulwark_count_layer();

CREATE FUNCTION bulwark_count_scan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM bulwark_count('scans|' || OLD.status, -1); END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM bulwark_count('scans|' || NEW.status, 1); END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER scans_count AFTER INSERT OR DELETE ON scans
  FOR EACH ROW EXECUTE FUNCTION bulwark_count_scan();
CREATE TRIGGER scans_count_update AFTER UPDATE OF status ON scans
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION bulwark_count_scan();

-- A repository counts from its first tag row to its last.
CREATE FUNCTION bulwark_count_repository() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF (SELECT COUNT(*) FROM tags WHERE registry = NEW.registry
        AND repository = NEW.repository) = 1 THEN
      PERFORM bulwark_count('repositories', 1);
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM tags WHERE registry = OLD.registry
                    AND repository = OLD.repository) THEN
    PERFORM bulwark_count('repositories', -1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER tags_count AFTER INSERT OR DELETE ON tags
  FOR EACH ROW EXECUTE FUNCTION bulwark_count_repository();

INSERT INTO fleet_counts(name, value)
SELECT 'images', COUNT(*) FROM image_summaries
UNION ALL SELECT 'layers', COUNT(*) FROM layers
UNION ALL SELECT 'uncompressed_bytes_analyzed', COALESCE(SUM(uncompressed_size), 0) FROM layers
UNION ALL SELECT 'compressed_bytes_fetched', COALESCE(SUM(compressed_size), 0) FROM layers
UNION ALL SELECT 'repositories', COUNT(*) FROM (SELECT DISTINCT registry, repository FROM tags) x
UNION ALL SELECT 'scans|' || status, COUNT(*) FROM scans GROUP BY status
UNION ALL SELECT 'grade|' || ruleset_version || '|' || grade, COUNT(*) FROM image_summaries
  WHERE ruleset_version <> '' GROUP BY ruleset_version, grade
UNION ALL SELECT 'base|' || ruleset_version || '|' || base, COUNT(*) FROM image_summaries
  WHERE ruleset_version <> '' GROUP BY ruleset_version, base
UNION ALL SELECT 'eol|' || ruleset_version, SUM(eol) FROM image_summaries
  WHERE ruleset_version <> '' GROUP BY ruleset_version;
