-- When the carrier delivered the parcel (Printful v2's delivered_at).
ALTER TABLE shipments ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
