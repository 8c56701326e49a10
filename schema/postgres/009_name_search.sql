-- Search by part of an image's name (GET /v1/images?q=) from a trigram index on the name the
-- filter computes, rather than a filter on the walk of the sort key's index (which read every
-- summary to fill a page when few matched). pg_trgm ships with PostgreSQL and is a trusted
-- extension (the database's owner may create it); where it cannot be created, search works as
-- before, and the server says why.
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX IF NOT EXISTS image_summaries_by_name ON image_summaries
    USING gin (lower(registry || '/' || repository || ':' || tag) gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pg_trgm unavailable (%); image search reads the summaries', SQLERRM;
END
$$;
