-- One row per sellable variant of the catalog. Prices are minor units of the currency.
CREATE TABLE IF NOT EXISTS products (
    sku text PRIMARY KEY,
    product_slug text NOT NULL,
    product_name text NOT NULL,
    description text NOT NULL DEFAULT '',
    size text NOT NULL DEFAULT '',
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    currency text NOT NULL CHECK (char_length(currency) = 3),
    printful_sync_variant_id bigint NOT NULL,
    stock_limit bigint CHECK (stock_limit >= 0),
    active boolean NOT NULL DEFAULT true,
    position integer NOT NULL DEFAULT 0,
    stock_version bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
