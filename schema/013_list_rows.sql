-- An images list row says at a glance how bad an image is without reading its report: the
-- count of unsuppressed findings per severity ({"critical": n, …} as JSON) and the finding
-- that matters most ({"rule_id", "title", "severity"}). Both '' until a report exists.
ALTER TABLE image_summaries ADD COLUMN severity_counts TEXT NOT NULL DEFAULT '';
ALTER TABLE image_summaries ADD COLUMN top_finding TEXT NOT NULL DEFAULT '';

-- Suppressions scoped to an image or a repository ('' = the whole fleet), and the day after
-- which one stops suppressing ('' = never).
ALTER TABLE suppressions ADD COLUMN image TEXT NOT NULL DEFAULT '';
ALTER TABLE suppressions ADD COLUMN expires TEXT NOT NULL DEFAULT '';

-- The top finding is the first unsuppressed one of the highest severity, in report order, as
-- the report builder picks it. A report that does not parse reads as having no findings.
UPDATE image_summaries SET
  severity_counts = COALESCE((
    SELECT json_object(
      'critical', COALESCE(SUM(json_extract(f.value, '$.severity') = 'critical'), 0),
      'high', COALESCE(SUM(json_extract(f.value, '$.severity') = 'high'), 0),
      'medium', COALESCE(SUM(json_extract(f.value, '$.severity') = 'medium'), 0),
      'low', COALESCE(SUM(json_extract(f.value, '$.severity') = 'low'), 0),
      'info', COALESCE(SUM(json_extract(f.value, '$.severity') = 'info'), 0))
    FROM reports r,
         json_each(CASE WHEN json_valid(r.report) AND json_type(r.report, '$.findings') = 'array'
                        THEN r.report ELSE '{"findings": []}' END, '$.findings') f
    WHERE r.manifest_digest = image_summaries.manifest_digest
      AND r.ruleset_version = image_summaries.ruleset_version
      AND NOT COALESCE(json_extract(f.value, '$.suppressed'), 0)), ''),
  top_finding = COALESCE((
    SELECT json_object('rule_id', json_extract(f.value, '$.rule_id'),
                       'title', json_extract(f.value, '$.title'),
                       'severity', json_extract(f.value, '$.severity'))
    FROM reports r,
         json_each(CASE WHEN json_valid(r.report) AND json_type(r.report, '$.findings') = 'array'
                        THEN r.report ELSE '{"findings": []}' END, '$.findings') f
    WHERE r.manifest_digest = image_summaries.manifest_digest
      AND r.ruleset_version = image_summaries.ruleset_version
      AND NOT COALESCE(json_extract(f.value, '$.suppressed'), 0)
    ORDER BY CASE json_extract(f.value, '$.severity') WHEN 'critical' THEN 4 WHEN 'high' THEN 3
                  WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC, f.key
    LIMIT 1), '')
WHERE ruleset_version <> '';

-- A tag names one image per platform: a summary that names a tag which has since moved to
-- another image of its platform names its repository only. Scans keep this as they record tags.
UPDATE image_summaries SET tag = ''
WHERE tag <> '' AND EXISTS (
  SELECT 1 FROM tags mine
  JOIN tags other ON other.registry = mine.registry AND other.repository = mine.repository
                 AND other.tag = mine.tag AND other.manifest_digest <> mine.manifest_digest
  JOIN image_summaries o ON o.manifest_digest = other.manifest_digest
  WHERE mine.registry = image_summaries.registry AND mine.repository = image_summaries.repository
    AND mine.tag = image_summaries.tag AND mine.manifest_digest = image_summaries.manifest_digest
    AND other.last_seen > mine.last_seen AND o.platform = image_summaries.platform);
CREATE INDEX image_summaries_by_tag ON image_summaries(registry, repository, tag);

-- The names an image was tagged as, for suppressions scoped to a repository or tag.
CREATE INDEX tags_by_digest ON tags(manifest_digest, last_seen);
