-- Failed attempts at the work the order owes (derived from its state), since the last success.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS work_attempts integer;
