-- What Stripe charged, part by part (subtotal, discount, shipping, tax, total in minor units), as
-- read from the paid session.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS charged jsonb;
