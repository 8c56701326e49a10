-- A token that every write of a layer's row changes (random: 64 bits), so that a reader keeping
-- the parsed facts in memory (store/detail/layer_cache.h) can tell, from the row alone, that they
-- are still the stored ones, and is not sent them again. Rows stored before read as '' and are
-- read in full the first time.
ALTER TABLE layers ADD COLUMN row_version TEXT NOT NULL DEFAULT '';
