CREATE INDEX ASYNC IF NOT EXISTS orders_status_updated_idx ON orders (status, updated_at);
