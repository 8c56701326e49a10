-- layer_paths and layer_whiteouts duplicated what each layer's facts already hold and were never
-- read; their per-row foreign-key checks made storing a layer cost quadratic in its entries.
DROP TABLE IF EXISTS layer_paths;
DROP TABLE IF EXISTS layer_whiteouts;
