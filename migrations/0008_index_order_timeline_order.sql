CREATE INDEX ASYNC IF NOT EXISTS order_timeline_order_idx ON order_timeline (order_id, at);
