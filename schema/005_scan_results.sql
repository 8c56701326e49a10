-- A finished scan's result, judged once when it ends: {"score","grade","verdict","reasons"}.
-- Polls read it as stored; re-scoring after a rules change updates reports, not verdicts given.
ALTER TABLE scans ADD COLUMN result TEXT;
