-- /v1/stats read from counters kept by triggers on the rows they count, so that it costs a few
-- rows whatever the size of the fleet. Names: images, layers, repositories,
-- uncompressed_bytes_analyzed, compressed_bytes_fetched, scans|<status>,
-- grade|<ruleset>|<grade>, base|<ruleset>|<base>, eol|<ruleset>.
CREATE TABLE fleet_counts (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER image_summaries_count_insert AFTER INSERT ON image_summaries BEGIN
  INSERT INTO fleet_counts VALUES ('images', 1)
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO fleet_counts SELECT 'grade|' || NEW.ruleset_version || '|' || NEW.grade, 1
    WHERE NEW.ruleset_version <> '' ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO fleet_counts SELECT 'base|' || NEW.ruleset_version || '|' || NEW.base, 1
    WHERE NEW.ruleset_version <> '' ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO fleet_counts SELECT 'eol|' || NEW.ruleset_version, NEW.eol
    WHERE NEW.ruleset_version <> '' ON CONFLICT(name) DO UPDATE SET value = value + excluded.value;
END;
CREATE TRIGGER image_summaries_count_delete AFTER DELETE ON image_summaries BEGIN
  UPDATE fleet_counts SET value = value - 1 WHERE name = 'images';
  UPDATE fleet_counts SET value = value - 1
    WHERE name = 'grade|' || OLD.ruleset_version || '|' || OLD.grade AND OLD.ruleset_version <> '';
  UPDATE fleet_counts SET value = value - 1
    WHERE name = 'base|' || OLD.ruleset_version || '|' || OLD.base AND OLD.ruleset_version <> '';
  UPDATE fleet_counts SET value = value - OLD.eol
    WHERE name = 'eol|' || OLD.ruleset_version AND OLD.ruleset_version <> '';
END;
CREATE TRIGGER image_summaries_count_update
AFTER UPDATE OF ruleset_version, grade, base, eol ON image_summaries BEGIN
  UPDATE fleet_counts SET value = value - 1
    WHERE name = 'grade|' || OLD.ruleset_version || '|' || OLD.grade AND OLD.ruleset_version <> '';
  UPDATE fleet_counts SET value = value - 1
    WHERE name = 'base|' || OLD.ruleset_version || '|' || OLD.base AND OLD.ruleset_version <> '';
  UPDATE fleet_counts SET value = value - OLD.eol
    WHERE name = 'eol|' || OLD.ruleset_version AND OLD.ruleset_version <> '';
  INSERT INTO fleet_counts SELECT 'grade|' || NEW.ruleset_version || '|' || NEW.grade, 1
    WHERE NEW.ruleset_version <> '' ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO fleet_counts SELECT 'base|' || NEW.ruleset_version || '|' || NEW.base, 1
    WHERE NEW.ruleset_version <> '' ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO fleet_counts SELECT 'eol|' || NEW.ruleset_version, NEW.eol
    WHERE NEW.ruleset_version <> '' ON CONFLICT(name) DO UPDATE SET value = value + excluded.value;
END;

CREATE TRIGGER layers_count_insert AFTER INSERT ON layers BEGIN
  INSERT INTO fleet_counts VALUES ('layers', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO fleet_counts VALUES ('uncompressed_bytes_analyzed', COALESCE(NEW.uncompressed_size, 0))
    ON CONFLICT(name) DO UPDATE SET value = value + excluded.value;
  INSERT INTO fleet_counts VALUES ('compressed_bytes_fetched', COALESCE(NEW.compressed_size, 0))
    ON CONFLICT(name) DO UPDATE SET value = value + excluded.value;
END;
CREATE TRIGGER layers_count_delete AFTER DELETE ON layers BEGIN
  UPDATE fleet_counts SET value = value - 1 WHERE name = 'layers';
  UPDATE fleet_counts SET value = value - COALESCE(OLD.uncompressed_size, 0)
    WHERE name = 'uncompressed_bytes_analyzed';
  UPDATE fleet_counts SET value = value - COALESCE(OLD.compressed_size, 0)
    WHERE name = 'compressed_bytes_fetched';
END;
CREATE TRIGGER layers_count_update AFTER UPDATE OF uncompressed_size, compressed_size ON layers BEGIN
  UPDATE fleet_counts SET value = value - COALESCE(OLD.uncompressed_size, 0)
    + COALESCE(NEW.uncompressed_size, 0) WHERE name = 'uncompressed_bytes_analyzed';
  UPDATE fleet_counts SET value = value - COALESCE(OLD.compressed_size, 0)
    + COALESCE(NEW.compressed_size, 0) WHERE name = 'compressed_bytes_fetched';
END;

CREATE TRIGGER scans_count_insert AFTER INSERT ON scans BEGIN
  INSERT INTO fleet_counts VALUES ('scans|' || NEW.status, 1)
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER scans_count_delete AFTER DELETE ON scans BEGIN
  UPDATE fleet_counts SET value = value - 1 WHERE name = 'scans|' || OLD.status;
END;
CREATE TRIGGER scans_count_update AFTER UPDATE OF status ON scans
WHEN OLD.status <> NEW.status BEGIN
  UPDATE fleet_counts SET value = value - 1 WHERE name = 'scans|' || OLD.status;
  INSERT INTO fleet_counts VALUES ('scans|' || NEW.status, 1)
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;

-- A repository counts from its first tag row to its last.
CREATE TRIGGER tags_count_insert AFTER INSERT ON tags
WHEN (SELECT COUNT(*) FROM tags WHERE registry = NEW.registry AND repository = NEW.repository) = 1
BEGIN
  INSERT INTO fleet_counts VALUES ('repositories', 1)
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER tags_count_delete AFTER DELETE ON tags
WHEN NOT EXISTS (SELECT 1 FROM tags WHERE registry = OLD.registry AND repository = OLD.repository)
BEGIN
  UPDATE fleet_counts SET value = value - 1 WHERE name = 'repositories';
END;

-- What the store holds now.
INSERT INTO fleet_counts(name, value)
SELECT 'images', COUNT(*) FROM image_summaries
UNION ALL SELECT 'layers', COUNT(*) FROM layers
UNION ALL SELECT 'uncompressed_bytes_analyzed', COALESCE(SUM(uncompressed_size), 0) FROM layers
UNION ALL SELECT 'compressed_bytes_fetched', COALESCE(SUM(compressed_size), 0) FROM layers
UNION ALL SELECT 'repositories', COUNT(*) FROM (SELECT DISTINCT registry, repository FROM tags)
UNION ALL SELECT 'scans|' || status, COUNT(*) FROM scans GROUP BY status
UNION ALL SELECT 'grade|' || ruleset_version || '|' || grade, COUNT(*) FROM image_summaries
  WHERE ruleset_version <> '' GROUP BY ruleset_version, grade
UNION ALL SELECT 'base|' || ruleset_version || '|' || base, COUNT(*) FROM image_summaries
  WHERE ruleset_version <> '' GROUP BY ruleset_version, base
UNION ALL SELECT 'eol|' || ruleset_version, SUM(eol) FROM image_summaries
  WHERE ruleset_version <> '' GROUP BY ruleset_version;
