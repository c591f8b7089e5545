-- Set when the owner lets a paid order go to Printful while fulfillment is paused.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS fulfillment_released_at timestamptz;
