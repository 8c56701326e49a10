-- Every entry path of a layer as sorted 64-bit FNV-1a hashes (8 bytes each, little-endian):
-- merging needs to know when a layer rewrites a lower layer's notable file with a plain one
-- (a chmod u-s, say), without storing every path as text.
ALTER TABLE layers ADD COLUMN path_hashes BLOB;
