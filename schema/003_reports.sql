-- Reports per (image, ruleset version): a ruleset change re-scores from stored facts.
CREATE TABLE reports (
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  ruleset_version TEXT NOT NULL,
  image_ref       TEXT NOT NULL,
  score           INTEGER NOT NULL,
  grade           TEXT NOT NULL,
  report          TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (manifest_digest, ruleset_version)
) WITHOUT ROWID;

-- Suppressions made through the API (config ones live in the config).
CREATE TABLE suppressions (
  id         INTEGER PRIMARY KEY,
  rule_id    TEXT NOT NULL,
  path       TEXT NOT NULL DEFAULT '',
  env_key    TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);

-- Images configured as known bases, by name, as last scanned.
CREATE TABLE reference_images (
  name            TEXT PRIMARY KEY,
  manifest_digest TEXT NOT NULL
) WITHOUT ROWID;

-- A scan's pass/fail policy: {"fail_under", "fail_on", "ignore"}.
ALTER TABLE scans ADD COLUMN policy TEXT;
