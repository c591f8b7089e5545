-- Units of a limited SKU held by orders, one row per SKU: `held` is the sum of the quantities of
-- that SKU's unreleased stock_holds, changed in the same transaction as they are. A checkout of a
-- limited piece writes this row (and no longer the products row), so holds of one SKU conflict
-- with each other only, never with the catalog, its sync or other products. The limit stays in
-- products.stock_limit; the row is made by the first checkout of the SKU that needs it.
CREATE TABLE IF NOT EXISTS stock (
    sku text PRIMARY KEY,
    held bigint NOT NULL CHECK (held >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
