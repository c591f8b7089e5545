-- The first failure of the current run of failed attempts (the owner hears after an hour).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS work_failing_since timestamptz;
