-- A child row of an image no longer probes it. Every image_layers, tags, reports and
-- image_summaries row is written by the store in the transaction that writes (or has just read)
-- its image, and images are never deleted. Each of these foreign keys cost an index probe and a
-- row lock of the image per written row: five per scan of a two-layer image, ten of the rows a
-- scan read (bench/replicas_bench.sh). An image's layers are still checked: its layers are
-- written by other transactions, and the store's contract refuses an image without them.
-- SQLite keeps all its foreign keys: one in-process writer, where a probe costs microseconds
-- and no other writer waits on the lock.
ALTER TABLE image_layers DROP CONSTRAINT IF EXISTS image_layers_manifest_digest_fkey;
ALTER TABLE tags DROP CONSTRAINT IF EXISTS tags_manifest_digest_fkey;
ALTER TABLE reports DROP CONSTRAINT IF EXISTS reports_manifest_digest_fkey;
ALTER TABLE image_summaries DROP CONSTRAINT IF EXISTS image_summaries_manifest_digest_fkey;
