-- True while the alert's latest raise has not reached the topic: the catch-up jobs publish it.
-- Rows from before this column are null: published.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS publish_pending boolean;
