-- Layers are keyed by the digest of their compressed blob: a base layer shared by many
-- images is fetched and analysed once. Facts are immutable per (digest, analyzer_version).
CREATE TABLE layers (
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
  facts             TEXT NOT NULL  -- JSON: analyser outputs beyond the columns here
) WITHOUT ROWID;

-- Notable entries only (setuid, world-writable, system config and binaries, package
-- databases, credentials), never every file.
CREATE TABLE layer_paths (
  layer_digest TEXT NOT NULL REFERENCES layers(digest) ON DELETE CASCADE,
  path         TEXT NOT NULL,
  kind         TEXT NOT NULL,
  mode         INTEGER NOT NULL,
  uid          INTEGER NOT NULL,
  gid          INTEGER NOT NULL,
  size         INTEGER NOT NULL,
  link         TEXT,
  PRIMARY KEY (layer_digest, path)
) WITHOUT ROWID;

CREATE TABLE layer_whiteouts (
  layer_digest TEXT NOT NULL REFERENCES layers(digest) ON DELETE CASCADE,
  path         TEXT NOT NULL,
  opaque       INTEGER NOT NULL,
  PRIMARY KEY (layer_digest, path, opaque)
) WITHOUT ROWID;

CREATE TABLE images (
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
) WITHOUT ROWID;

CREATE TABLE image_layers (
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  layer_digest    TEXT NOT NULL REFERENCES layers(digest),
  media_type      TEXT NOT NULL,
  size            INTEGER NOT NULL,
  diff_id         TEXT,
  PRIMARY KEY (manifest_digest, position)
) WITHOUT ROWID;
CREATE INDEX image_layers_by_layer ON image_layers(layer_digest);

-- What a tag pointed to, and when: one row per (tag, digest) it has named.
CREATE TABLE tags (
  registry        TEXT NOT NULL,
  repository      TEXT NOT NULL,
  tag             TEXT NOT NULL,
  manifest_digest TEXT NOT NULL REFERENCES images(manifest_digest) ON DELETE CASCADE,
  first_seen      TEXT NOT NULL,
  last_seen       TEXT NOT NULL,
  PRIMARY KEY (registry, repository, tag, manifest_digest)
) WITHOUT ROWID;

CREATE TABLE scans (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order, for cursors
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
  finished_at     TEXT
);
CREATE INDEX scans_by_status ON scans(status, seq);
