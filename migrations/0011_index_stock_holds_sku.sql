CREATE INDEX ASYNC IF NOT EXISTS stock_holds_sku_idx ON stock_holds (sku, released_at);
