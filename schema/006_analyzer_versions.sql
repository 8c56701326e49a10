-- Each layer's analysers and their versions ({"name": version}): a layer is analysed again when
-- an analyser that applies has a newer version. Layers stored before are at version 1 of each.
ALTER TABLE layers ADD COLUMN analyzer_versions TEXT;
