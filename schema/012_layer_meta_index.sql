-- The scan path reads a layer's analyser versions, diff id and status for every layer of every
-- scan. From the row, analyzer_versions (stored after the facts, up to megabytes of JSON) meant
-- walking the facts' overflow pages each time; this index holds those few columns alone.
CREATE INDEX layers_meta ON layers(digest, analyzer_version, diff_id, status, analyzer_versions);
