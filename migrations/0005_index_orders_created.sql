CREATE INDEX ASYNC IF NOT EXISTS orders_created_idx ON orders (created_at);
