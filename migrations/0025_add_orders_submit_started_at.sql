-- When backroom first started creating the order at Printful: a Printful order naming this
-- order is backroom's own only when this is set or Printful's answer was recorded.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS submit_started_at timestamptz;
