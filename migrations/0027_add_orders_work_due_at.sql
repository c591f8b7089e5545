-- The owed work's back-off: not attempted again before this time.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS work_due_at timestamptz;
