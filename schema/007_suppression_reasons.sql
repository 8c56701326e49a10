-- Why a suppression was made (shown with the finding it suppresses); suppressions made before
-- have none.
ALTER TABLE suppressions ADD COLUMN reason TEXT NOT NULL DEFAULT '';
