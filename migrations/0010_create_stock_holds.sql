-- Units of a limited SKU held by an order. A hold counts while released_at is null.
CREATE TABLE IF NOT EXISTS stock_holds (
    order_id uuid NOT NULL,
    sku text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    PRIMARY KEY (order_id, sku)
);
