-- The request that created a scan (X-Request-Id, "schedule"…), kept with it so that whichever
-- replica claims the scan from the shared queue logs it.
ALTER TABLE scans ADD COLUMN request_id TEXT;
