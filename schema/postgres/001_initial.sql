-- The PostgreSQL store: the same tables as the SQLite one (schema/001…), in one migration.
-- Layers are keyed by the digest of their compressed blob: a base layer shared by many images
-- is fetched and analysed once, whichever replica does it.
CREATE TABLE layers (
  digest            TEXT PRIMARY KEY,
  media_type        TEXT NOT NULL,
  compression       TEXT NOT NULL,
  compressed_size   BIGINT NOT NULL,
  uncompressed_size BIGINT NOT NULL,
  diff_id           TEXT NOT NULL,
  entry_count       BIGINT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('complete', 'limit_exceeded', 'invalid', 'skipped')),
  status_reason     TEXT,
  analyzer_version  INTEGER NOT NULL,
  analyzed_at       TEXT NOT NULL,
  facts             TEXT NOT NULL,
  path_hashes       BYTEA,
  analyzer_versions TEXT
);

CREATE TABLE images (
  manifest_digest TEXT PRIMARY KEY,
  media_type      TEXT NOT NULL,
  config_digest   TEXT NOT NULL,
  os              TEXT NOT NULL,
  architecture    TEXT NOT NULL,
  variant         TEXT NOT NULL DEFAULT '',
  created         TEXT,
  "user"          TEXT,
  config          TEXT NOT NULL,
  manifest        TEXT NOT NULL,
  first_seen      TEXT NOT NULL,
  last_scanned    TEXT NOT NULL
);

CREATE TABLE image_layers (
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  layer_digest    TEXT NOT NULL REFERENCES layers(digest),
  media_type      TEXT NOT NULL,
  size            BIGINT NOT NULL,
  diff_id         TEXT,
  PRIMARY KEY (manifest_digest, position)
);
CREATE INDEX image_layers_by_layer ON image_layers(layer_digest);

CREATE TABLE tags (
  registry        TEXT NOT NULL,
  repository      TEXT NOT NULL,
  tag             TEXT NOT NULL,
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  first_seen      TEXT NOT NULL,
  last_seen       TEXT NOT NULL,
  PRIMARY KEY (registry, repository, tag, manifest_digest)
);

CREATE TABLE scans (
  seq             BIGSERIAL PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  image           TEXT NOT NULL,
  platform        TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  manifest_digest TEXT,
  index_digest    TEXT,
  error_code      TEXT,
  error_message   TEXT,
  progress        TEXT NOT NULL DEFAULT '{}',
  created_at      TEXT NOT NULL,
  started_at      TEXT,
  finished_at     TEXT,
  policy          TEXT,
  result          TEXT
);
CREATE INDEX scans_by_status ON scans(status, seq);

CREATE TABLE reports (
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  ruleset_version TEXT NOT NULL,
  image_ref       TEXT NOT NULL,
  score           INTEGER NOT NULL,
  grade           TEXT NOT NULL,
  report          TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (manifest_digest, ruleset_version)
);

CREATE TABLE suppressions (
  id         BIGSERIAL PRIMARY KEY,
  rule_id    TEXT NOT NULL,
  path       TEXT NOT NULL DEFAULT '',
  env_key    TEXT NOT NULL DEFAULT '',
  reason     TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);

CREATE TABLE reference_images (
  name            TEXT PRIMARY KEY,
  manifest_digest TEXT NOT NULL
);
