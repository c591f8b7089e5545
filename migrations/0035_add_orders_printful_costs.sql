-- What Printful bills for the order (its `costs`): {"currency", "subtotal", "discount",
-- "shipping", "tax", "total"} in minor units, as last read from Printful.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS printful_costs jsonb;
