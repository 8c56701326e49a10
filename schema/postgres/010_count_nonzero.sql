-- A counter moved by nothing is left alone. Most images have no end-of-life finding, and their
-- summary's `eol|<ruleset>` counter was read and rewritten with a delta of 0 at every scan: two
-- rows read and a dead row version for no change. Readers take a missing counter as 0.
CREATE OR REPLACE FUNCTION bulwark_count(key TEXT, delta BIGINT) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fleet_counts(name, value) SELECT key, delta WHERE delta <> 0
  ON CONFLICT (name) DO UPDATE SET value = fleet_counts.value + excluded.value
$$;
