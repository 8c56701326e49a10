-- What dashboards and registry passes read, kept as it is written, so that a read costs the
-- page asked for, never the size of the store.

-- The scheduler's one lookup per tag: is a scan of this reference queued or running?
CREATE INDEX scans_pending_by_image ON scans(image) WHERE status IN ('queued', 'running');
-- An image's scan history, newest first: the image filter of GET /v1/scans and retention.
CREATE INDEX scans_by_image ON scans(image, seq);
-- Totals for /v1/stats without reading the layers' facts.
CREATE INDEX layers_by_size ON layers(compressed_size, uncompressed_size);

-- The latest state of each image: platform, the tag that last named it, when it was last
-- scanned, and its report's score, grade, base and whether its OS is past end of life.
-- score is -1 and grade '' until a report exists; ruleset_version says which rules scored it.
CREATE TABLE image_summaries (
  manifest_digest TEXT PRIMARY KEY REFERENCES images(manifest_digest) ON DELETE CASCADE,
  platform        TEXT NOT NULL,
  registry        TEXT NOT NULL DEFAULT '',
  repository      TEXT NOT NULL DEFAULT '',
  tag             TEXT NOT NULL DEFAULT '',
  last_scanned    TEXT NOT NULL,
  ruleset_version TEXT NOT NULL DEFAULT '',
  score           INTEGER NOT NULL DEFAULT -1,
  grade           TEXT NOT NULL DEFAULT '',
  base            TEXT NOT NULL DEFAULT '',
  eol             INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX image_summaries_by_scanned ON image_summaries(last_scanned, manifest_digest);
CREATE INDEX image_summaries_by_score ON image_summaries(score, manifest_digest);
CREATE INDEX image_summaries_by_grade ON image_summaries(ruleset_version, grade);
CREATE INDEX image_summaries_by_base ON image_summaries(ruleset_version, base, eol);
CREATE INDEX image_summaries_by_repository ON image_summaries(registry, repository, last_scanned);

INSERT INTO image_summaries(manifest_digest, platform, registry, repository, tag, last_scanned,
                            ruleset_version, score, grade, base, eol)
SELECT i.manifest_digest,
       i.os || '/' || i.architecture || CASE WHEN i.variant = '' THEN '' ELSE '/' || i.variant END,
       COALESCE((SELECT registry FROM tags x WHERE x.manifest_digest = i.manifest_digest
                 ORDER BY last_seen DESC LIMIT 1), ''),
       COALESCE((SELECT repository FROM tags x WHERE x.manifest_digest = i.manifest_digest
                 ORDER BY last_seen DESC LIMIT 1), ''),
       COALESCE((SELECT tag FROM tags x WHERE x.manifest_digest = i.manifest_digest
                 ORDER BY last_seen DESC LIMIT 1), ''),
       i.last_scanned, COALESCE(r.ruleset_version, ''), COALESCE(r.score, -1),
       COALESCE(r.grade, ''),
       COALESCE(CASE WHEN json_valid(r.report) THEN json_extract(r.report, '$.base.name') END, ''),
       CASE WHEN json_valid(r.report) THEN
         EXISTS (SELECT 1 FROM json_each(r.report, '$.findings')
                 WHERE json_extract(value, '$.rule_id') = 'BW-OS-EOL'
                   AND NOT COALESCE(json_extract(value, '$.suppressed'), 0))
       ELSE 0 END
FROM images i
LEFT JOIN reports r ON r.manifest_digest = i.manifest_digest AND r.ruleset_version =
  (SELECT ruleset_version FROM reports y WHERE y.manifest_digest = i.manifest_digest
   ORDER BY created_at DESC LIMIT 1);

-- Trends read one row per image reference and day: its last result that day and how many
-- scans ended then. Scan rows can then be pruned by retention without losing history.
CREATE TABLE daily_results (
  day             TEXT NOT NULL,
  image           TEXT NOT NULL,
  manifest_digest TEXT NOT NULL,
  score           INTEGER NOT NULL,
  grade           TEXT NOT NULL,
  finished_at     TEXT NOT NULL,
  scans           INTEGER NOT NULL,
  PRIMARY KEY (day, image)
) WITHOUT ROWID;

INSERT INTO daily_results(day, image, manifest_digest, score, grade, finished_at, scans)
SELECT substr(finished_at, 1, 10), image, manifest_digest, json_extract(result, '$.score'),
       json_extract(result, '$.grade'), finished_at, 1
FROM scans
WHERE status = 'done' AND result IS NOT NULL AND json_valid(result)
  AND json_type(result, '$.score') = 'integer' AND json_type(result, '$.grade') = 'text'
  AND finished_at IS NOT NULL AND manifest_digest IS NOT NULL
ORDER BY seq
ON CONFLICT(day, image) DO UPDATE SET manifest_digest = excluded.manifest_digest,
  score = excluded.score, grade = excluded.grade, finished_at = excluded.finished_at,
  scans = daily_results.scans + 1;
