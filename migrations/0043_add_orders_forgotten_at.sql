-- When the buyer's data (email, shipping name and address) was erased from the order, by
-- `backroom orders forget` or the retention sweep; amounts, items and the timeline stay.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS forgotten_at timestamptz;
