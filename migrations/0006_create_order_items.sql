CREATE TABLE IF NOT EXISTS order_items (
    order_id uuid NOT NULL,
    line integer NOT NULL CHECK (line >= 0),
    sku text NOT NULL,
    name text NOT NULL,
    size text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents > 0),
    printful_sync_variant_id bigint NOT NULL,
    PRIMARY KEY (order_id, line)
);
