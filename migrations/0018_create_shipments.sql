-- Parcels Printful sent for an order, one row per Printful shipment (reshipments included).
-- A known tracking number is never replaced by an empty one.
CREATE TABLE IF NOT EXISTS shipments (
    order_id uuid NOT NULL,
    provider_shipment_id bigint NOT NULL,
    carrier text NOT NULL DEFAULT '',
    service text NOT NULL DEFAULT '',
    tracking_number text NOT NULL DEFAULT '',
    tracking_url text NOT NULL DEFAULT '',
    shipped_at timestamptz,
    reshipment boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, provider_shipment_id)
);
