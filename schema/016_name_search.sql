-- Search by part of an image's name (GET /v1/images?q=) from a trigram index: as a filter on
-- the walk of the sort key's index, a search that matched a few images read every summary to
-- fill its page (33 ms at 10,000 images). image_names holds each summary's searched name
-- ("registry/repository:tag", lower case) under an integer key, and image_names_fts indexes its
-- trigrams (FTS5's trigram tokenizer serves LIKE '%text%' for three characters or more).
CREATE TABLE image_names (
  id              INTEGER PRIMARY KEY,
  manifest_digest TEXT NOT NULL UNIQUE,
  name            TEXT NOT NULL
);
CREATE VIRTUAL TABLE image_names_fts USING fts5(
  name, content = 'image_names', content_rowid = 'id', tokenize = 'trigram');

INSERT INTO image_names(manifest_digest, name)
  SELECT manifest_digest, lower(registry || '/' || repository || ':' || tag) FROM image_summaries;
INSERT INTO image_names_fts(image_names_fts) VALUES ('rebuild');

-- Kept as summaries are written. A summary's name is rewritten on every touch (an unchanged
-- tag's pass sets it to what it was): only a real change costs an index update.
CREATE TRIGGER image_names_insert AFTER INSERT ON image_summaries BEGIN
  INSERT INTO image_names(manifest_digest, name)
    VALUES (NEW.manifest_digest, lower(NEW.registry || '/' || NEW.repository || ':' || NEW.tag));
END;
CREATE TRIGGER image_names_update AFTER UPDATE OF registry, repository, tag ON image_summaries
WHEN OLD.registry IS NOT NEW.registry OR OLD.repository IS NOT NEW.repository
  OR OLD.tag IS NOT NEW.tag BEGIN
  UPDATE image_names SET name = lower(NEW.registry || '/' || NEW.repository || ':' || NEW.tag)
    WHERE manifest_digest = NEW.manifest_digest;
END;
CREATE TRIGGER image_names_delete AFTER DELETE ON image_summaries BEGIN
  DELETE FROM image_names WHERE manifest_digest = OLD.manifest_digest;
END;
CREATE TRIGGER image_names_fts_insert AFTER INSERT ON image_names BEGIN
  INSERT INTO image_names_fts(rowid, name) VALUES (NEW.id, NEW.name);
END;
CREATE TRIGGER image_names_fts_delete AFTER DELETE ON image_names BEGIN
  INSERT INTO image_names_fts(image_names_fts, rowid, name) VALUES ('delete', OLD.id, OLD.name);
END;
CREATE TRIGGER image_names_fts_update AFTER UPDATE OF name ON image_names BEGIN
  INSERT INTO image_names_fts(image_names_fts, rowid, name) VALUES ('delete', OLD.id, OLD.name);
  INSERT INTO image_names_fts(rowid, name) VALUES (NEW.id, NEW.name);
END;
