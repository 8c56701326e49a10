-- What dashboards and registry passes read, kept as it is written (see the SQLite schema's
-- 009_fleet_reads.sql, which this mirrors).
CREATE INDEX scans_pending_by_image ON scans(image) WHERE status IN ('queued', 'running');
CREATE INDEX scans_by_image ON scans(image, seq);
CREATE INDEX layers_by_size ON layers(compressed_size, uncompressed_size);

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
);
CREATE INDEX image_summaries_by_scanned ON image_summaries(last_scanned, manifest_digest);
CREATE INDEX image_summaries_by_score ON image_summaries(score, manifest_digest);
CREATE INDEX image_summaries_by_grade ON image_summaries(ruleset_version, grade);
CREATE INDEX image_summaries_by_base ON image_summaries(ruleset_version, base, eol);
CREATE INDEX image_summaries_by_repository ON image_summaries(registry, repository, last_scanned);

-- Reports stored by hand or damaged are text that does not parse: read as no report.
CREATE FUNCTION bulwark_try_jsonb(t TEXT) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN t::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

INSERT INTO image_summaries(manifest_digest, platform, registry, repository, tag, last_scanned,
                            ruleset_version, score, grade, base, eol)
SELECT i.manifest_digest,
       i.os || '/' || i.architecture || CASE WHEN i.variant = '' THEN '' ELSE '/' || i.variant END,
       COALESCE(t.registry, ''), COALESCE(t.repository, ''), COALESCE(t.tag, ''), i.last_scanned,
       COALESCE(r.ruleset_version, ''), COALESCE(r.score, -1), COALESCE(r.grade, ''),
       COALESCE(bulwark_try_jsonb(r.report)->'base'->>'name', ''),
       CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(
                           CASE WHEN jsonb_typeof(bulwark_try_jsonb(r.report)->'findings') = 'array'
                                THEN bulwark_try_jsonb(r.report)->'findings' ELSE '[]'::jsonb END) f
                         WHERE f->>'rule_id' = 'BW-OS-EOL'
                           AND NOT COALESCE((f->>'suppressed')::boolean, false))
            THEN 1 ELSE 0 END
FROM images i
LEFT JOIN LATERAL (SELECT registry, repository, tag FROM tags x
                   WHERE x.manifest_digest = i.manifest_digest
                   ORDER BY last_seen DESC LIMIT 1) t ON true
LEFT JOIN LATERAL (SELECT ruleset_version, score, grade, report FROM reports y
                   WHERE y.manifest_digest = i.manifest_digest
                   ORDER BY created_at DESC LIMIT 1) r ON true;

CREATE TABLE daily_results (
  day             TEXT NOT NULL,
  image           TEXT NOT NULL,
  manifest_digest TEXT NOT NULL,
  score           INTEGER NOT NULL,
  grade           TEXT NOT NULL,
  finished_at     TEXT NOT NULL,
  scans           INTEGER NOT NULL,
  PRIMARY KEY (day, image)
);

INSERT INTO daily_results(day, image, manifest_digest, score, grade, finished_at, scans)
SELECT DISTINCT ON (day, image) day, image, manifest_digest, score, grade, finished_at,
       COUNT(*) OVER (PARTITION BY day, image)
FROM (SELECT substr(finished_at, 1, 10) AS day, image, manifest_digest, seq, finished_at,
             (bulwark_try_jsonb(result)->>'score')::int AS score,
             bulwark_try_jsonb(result)->>'grade' AS grade
      FROM scans
      WHERE status = 'done' AND result IS NOT NULL AND finished_at IS NOT NULL
        AND manifest_digest IS NOT NULL
        AND jsonb_typeof(bulwark_try_jsonb(result)->'score') = 'number'
        AND jsonb_typeof(bulwark_try_jsonb(result)->'grade') = 'string') s
ORDER BY day, image, seq DESC;

DROP FUNCTION bulwark_try_jsonb(TEXT);
