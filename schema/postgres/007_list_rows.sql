-- An images list row says at a glance how bad an image is without reading its report: the
-- count of unsuppressed findings per severity ({"critical": n, …} as JSON) and the finding
-- that matters most ({"rule_id", "title", "severity"}). Both '' until a report exists.
ALTER TABLE image_summaries ADD COLUMN severity_counts TEXT NOT NULL DEFAULT '',
                            ADD COLUMN top_finding TEXT NOT NULL DEFAULT '';

-- Suppressions scoped to an image or a repository ('' = the whole fleet), and the day after
-- which one stops suppressing ('' = never).
ALTER TABLE suppressions ADD COLUMN image TEXT NOT NULL DEFAULT '',
                         ADD COLUMN expires TEXT NOT NULL DEFAULT '';

-- The top finding is the first unsuppressed one of the highest severity, in report order, as
-- the report builder picks it. A report that does not parse reads as having no findings.
CREATE FUNCTION bulwark_try_jsonb(t TEXT) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN t::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

UPDATE image_summaries s SET
  severity_counts = COALESCE((
    SELECT json_build_object(
      'critical', count(*) FILTER (WHERE f.value->>'severity' = 'critical'),
      'high', count(*) FILTER (WHERE f.value->>'severity' = 'high'),
      'medium', count(*) FILTER (WHERE f.value->>'severity' = 'medium'),
      'low', count(*) FILTER (WHERE f.value->>'severity' = 'low'),
      'info', count(*) FILTER (WHERE f.value->>'severity' = 'info'))::text
    FROM reports r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(bulwark_try_jsonb(r.report)->'findings') = 'array'
                                   THEN bulwark_try_jsonb(r.report)->'findings'
                                   ELSE '[]'::jsonb END) f(value)
    WHERE r.manifest_digest = s.manifest_digest AND r.ruleset_version = s.ruleset_version
      AND NOT COALESCE((f.value->>'suppressed')::boolean, false)), ''),
  top_finding = COALESCE((
    SELECT json_build_object('rule_id', f.value->>'rule_id', 'title', f.value->>'title',
                             'severity', f.value->>'severity')::text
    FROM reports r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(bulwark_try_jsonb(r.report)->'findings') = 'array'
                                   THEN bulwark_try_jsonb(r.report)->'findings'
                                   ELSE '[]'::jsonb END) WITH ORDINALITY f(value, n)
    WHERE r.manifest_digest = s.manifest_digest AND r.ruleset_version = s.ruleset_version
      AND NOT COALESCE((f.value->>'suppressed')::boolean, false)
    ORDER BY CASE f.value->>'severity' WHEN 'critical' THEN 4 WHEN 'high' THEN 3
                  WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END DESC, f.n
    LIMIT 1), '')
WHERE s.ruleset_version <> '';

DROP FUNCTION bulwark_try_jsonb(TEXT);

-- A tag names one image per platform: a summary that names a tag which has since moved to
-- another image of its platform names its repository only. Scans keep this as they record tags.
UPDATE image_summaries s SET tag = ''
WHERE s.tag <> '' AND EXISTS (
  SELECT 1 FROM tags mine
  JOIN tags other ON other.registry = mine.registry AND other.repository = mine.repository
                 AND other.tag = mine.tag AND other.manifest_digest <> mine.manifest_digest
  JOIN image_summaries o ON o.manifest_digest = other.manifest_digest
  WHERE mine.registry = s.registry AND mine.repository = s.repository AND mine.tag = s.tag
    AND mine.manifest_digest = s.manifest_digest AND other.last_seen > mine.last_seen
    AND o.platform = s.platform);
CREATE INDEX image_summaries_by_tag ON image_summaries(registry, repository, tag);

-- The names an image was tagged as, for suppressions scoped to a repository or tag.
CREATE INDEX tags_by_digest ON tags(manifest_digest, last_seen);
