-- The shop's shipping zones from catalog.toml: a flat rate (minor units) per zone of countries,
-- free from `free_above` on, with a delivery estimate in business days. `countries` is a JSON
-- array of ISO 3166-1 alpha-2 codes (DSQL has no array columns).
CREATE TABLE IF NOT EXISTS shipping_zones (
    name text PRIMARY KEY,
    position integer NOT NULL,
    countries jsonb NOT NULL,
    rate_cents bigint NOT NULL CHECK (rate_cents >= 0),
    currency text NOT NULL,
    free_above_cents bigint CHECK (free_above_cents > 0),
    min_days integer,
    max_days integer,
    updated_at timestamptz NOT NULL DEFAULT now()
);
