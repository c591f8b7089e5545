-- What the last failed attempt at the owed work said.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS work_error text;
