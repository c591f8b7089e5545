-- What the carrier last said about the parcel (Printful v2's delivery_status: in_transit,
-- delivered, return_to_sender, failure, …); NULL until the Printful catch-up has read it.
ALTER TABLE shipments ADD COLUMN IF NOT EXISTS delivery_status text;
