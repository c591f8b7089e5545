-- When the order's last parcel was delivered: set with the move to `delivered`.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
