-- bulwark: foreign_keys off
-- images, reports and layers become rowid tables. In a WITHOUT ROWID table the whole row is the
-- b-tree key, and SQLite reads a key that overflows its page whole at every comparison of a
-- lookup: each foreign-key check of a new image_layers, tags or reports row read the image's
-- config (up to max_config_bytes: 6 MB for 60,000 build steps) several times over, and layers'
-- facts the same. In a rowid table the primary key is an index of the key alone.
-- SQLite's procedure for changing a table's shape: foreign keys off (the runner does it outside
-- the transaction for a migration marked as this one is), new table, copy, drop, rename, check.
CREATE TABLE images_rowid (
  manifest_digest TEXT PRIMARY KEY,
  media_type      TEXT NOT NULL,
  config_digest   TEXT NOT NULL,
  os              TEXT NOT NULL,
  architecture    TEXT NOT NULL,
  variant         TEXT NOT NULL DEFAULT '',
  created         TEXT,
  user            TEXT,
  config          TEXT NOT NULL,
  manifest        TEXT NOT NULL,
  first_seen      TEXT NOT NULL,
  last_scanned    TEXT NOT NULL
);
INSERT INTO images_rowid(manifest_digest, media_type, config_digest, os, architecture, variant,
                         created, user, config, manifest, first_seen, last_scanned)
  SELECT manifest_digest, media_type, config_digest, os, architecture, variant, created, user,
         config, manifest, first_seen, last_scanned FROM images;
DROP TABLE images;
ALTER TABLE images_rowid RENAME TO images;

CREATE TABLE reports_rowid (
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  ruleset_version TEXT NOT NULL,
  image_ref       TEXT NOT NULL,
  score           INTEGER NOT NULL,
  grade           TEXT NOT NULL,
  report          TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (manifest_digest, ruleset_version)
);
INSERT INTO reports_rowid(manifest_digest, ruleset_version, image_ref, score, grade, report,
                          created_at)
  SELECT manifest_digest, ruleset_version, image_ref, score, grade, report, created_at
  FROM reports;
DROP TABLE reports;
ALTER TABLE reports_rowid RENAME TO reports;

CREATE TABLE layers_rowid (
  digest            TEXT PRIMARY KEY,
  media_type        TEXT NOT NULL,
  compression       TEXT NOT NULL,
  compressed_size   INTEGER NOT NULL,
  uncompressed_size INTEGER NOT NULL,
  diff_id           TEXT NOT NULL,
  entry_count       INTEGER NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('complete', 'limit_exceeded', 'invalid', 'skipped')),
  status_reason     TEXT,
  analyzer_version  INTEGER NOT NULL,
  analyzed_at       TEXT NOT NULL,
  facts             TEXT NOT NULL,
  path_hashes       BLOB,
  analyzer_versions TEXT
);
INSERT INTO layers_rowid(digest, media_type, compression, compressed_size, uncompressed_size,
                         diff_id, entry_count, status, status_reason, analyzer_version,
                         analyzed_at, facts, path_hashes, analyzer_versions)
  SELECT digest, media_type, compression, compressed_size, uncompressed_size, diff_id,
         entry_count, status, status_reason, analyzer_version, analyzed_at, facts, path_hashes,
         analyzer_versions FROM layers;
DROP TABLE layers;
ALTER TABLE layers_rowid RENAME TO layers;
-- What the old table had besides its rows (009, 011, 012).
CREATE INDEX layers_by_size ON layers(compressed_size, uncompressed_size);
CREATE INDEX layers_meta ON layers(digest, analyzer_version, diff_id, status, analyzer_versions);
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
